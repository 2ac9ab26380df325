/**
 * The trusted prologue that runs a Python solution and its tests inside the sandbox.
 *
 * Why the result cannot be forged by the solution:
 * - the 32 random bytes that open the verdict on fd 3 are read before any solution code runs
 *   and kept only in the closure of an audit hook (PEP 578), which Python code cannot list,
 *   remove or inspect; the verdict is written by that hook when the prologue's own frame
 *   (checked by identity) raises the `sft.report` event, once;
 * - the hook refuses the routes to other frames and objects (`sys._getframe`,
 *   `sys._current_frames`, traceback/generator/coroutine frames, `gc.get_objects/referrers/
 *   referents`, `sys.settrace/setprofile`, `ctypes`, `/proc/*\/mem`) and the starting of
 *   programs (exec, spawn, `os.system`, `subprocess`), which would run without the hook;
 * - the tests are a tuple of strings and the counter a local int, so nothing the solution can
 *   reach changes what runs or what is counted; any exception, `SystemExit` included, fails
 *   the test; `os._exit` or a crash leaves no verdict (scored 0);
 * - the parent accepts exactly one record and nothing else on fd 3 (see ./verdict.ts).
 * Audit hooks are a Python-level barrier: the OS sandbox (./sandbox.ts) is what confines a
 * solution that gets past them.
 */

const py = (s: string) => JSON.stringify(s); // a JSON string literal is a valid Python str literal

/** Program text for `python3 -` : prologue + setup, solution and tests as literals. */
export function pythonHarness(setup: string, solution: string, tests: string[]): string {
  return `def __sft_install(frame):
    import os, sys
    read, write = os.read, os.write
    getframe = sys._getframe
    nonce = b""
    while len(nonce) < 32:
        chunk = read(3, 32 - len(nonce))
        if not chunk:
            break
        nonce += chunk
    state = {"reported": False, "inside": False}
    frame_attrs = frozenset(("tb_frame", "gi_frame", "cr_frame", "ag_frame", "f_back"))
    refused = frozenset((
        "sys._current_frames", "sys._current_exceptions", "sys.settrace", "sys.setprofile",
        "gc.get_objects", "gc.get_referrers", "gc.get_referents", "ctypes.dlopen",
        "ctypes.dlsym", "ctypes.addressof", "ctypes.cdata", "ctypes.string_at", "ctypes.wstring_at",
        "os.exec", "os.posix_spawn", "os.spawn", "os.system", "os.startfile", "subprocess.Popen",
        "pty.spawn", "sys.addaudithook", "sys._getframemodulename", "code.__new__",
        "function.__new__", "sys.monitoring.register_callback", "cpython.PyInterpreterState_Clear",
    ))

    def hook(event, args):
        if state["inside"]:
            return
        if event == "sft.report":
            state["inside"] = True
            try:
                caller = getframe(1)
            finally:
                state["inside"] = False
            if caller is not frame or state["reported"]:
                raise PermissionError("not the harness")
            state["reported"] = True
            passed, detail = args
            write(3, nonce + b" " + str(int(passed)).encode() + b" " + detail.encode("utf-8", "replace") + b"\\n")
            return
        if event in refused:
            raise PermissionError(event + " is not allowed in the sandbox")
        if event == "sys._getframe":
            # ValueError is what a too-deep frame lookup raises: library code copes with it
            raise ValueError("frame inspection is not allowed in the sandbox")
        if event == "object.__getattr__" and len(args) > 1 and args[1] in frame_attrs:
            raise AttributeError(args[1] + " is not available in the sandbox")
        if event == "import" and args and args[0] in ("ctypes", "_ctypes"):
            raise ImportError("ctypes is not available in the sandbox")
        if event == "open" and args and isinstance(args[0], str) and args[0].startswith("/proc/") and args[0].endswith("/mem"):
            raise PermissionError("process memory is not readable in the sandbox")

    return hook


def __sft_main():
    import builtins, json, sys
    sys.addaudithook(__sft_install(sys._getframe()))
    del globals()["__sft_install"]
    del globals()["__sft_main"]
    audit, compile_, exec_, type_, str_, isinstance_ = sys.audit, compile, exec, type, str, isinstance
    base = BaseException
    dumps = json.dumps
    setup = ${py(setup)}
    solution = ${py(solution)}
    tests = (${tests.map((t) => `${py(t)},`).join(" ")})

    def describe(e):
        try:
            text = type_(e).__name__
            message = str_(e)
            return (text + ": " + message if message else text)[:500]
        except base:
            return "(unprintable error)"

    passed = 0
    first_error = ""
    namespace = {"__name__": "__main__", "__builtins__": builtins}
    try:
        exec_(compile_(setup + "\\n" + solution, "<solution>", "exec"), namespace)
        ok = True
    except base as e:
        first_error = "the solution failed: " + describe(e)
        ok = False
    if ok:
        for test in tests:
            try:
                exec_(compile_(test, "<test>", "exec"), namespace)
                passed += 1
            except base as e:
                if not first_error:
                    first_error = describe(e)
    try:
        detail = dumps(first_error)
    except base:
        detail = '""'
    if not isinstance_(detail, str_):
        detail = '""'
    audit("sft.report", passed, detail)
    sys.stdout.flush()
    import os
    os._exit(0)


__sft_main()
`;
}
