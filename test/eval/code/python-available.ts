import { spawnSync } from "node:child_process";

/** The Python the code tests use: SFT_TEST_PYTHON, else python3 on PATH; null when none runs. */
export const TEST_PYTHON = process.env.SFT_TEST_PYTHON ?? "python3";
export const hasPython =
  spawnSync(TEST_PYTHON, ["-c", "import sys; assert sys.version_info >= (3, 8)"]).status === 0;
export const skipWithoutPython = hasPython
  ? false
  : `no Python interpreter "${TEST_PYTHON}" is installed (apt-get install -y python3): Python code checks not run`;
