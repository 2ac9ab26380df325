/**
 * A small, deterministic language identifier for IFEval's `language:response_language` and
 * the "in English" part of the change_case rules.
 *
 * How it decides:
 * 1. Letters are counted per writing system (Unicode script), URLs and e-mail addresses
 *    left out. The script holding most
 *    letters decides alone when only one language in our set uses it (Thai, Korean,
 *    Hebrew, Greek, Bengali, Gujarati, Gurmukhi, Tamil, Telugu, Kannada, Malayalam…).
 * 2. Han with any kana is Japanese; Han without kana is Chinese (`zh-cn`, or `zh-tw` when
 *    traditional-only characters outnumber simplified-only ones).
 * 3. Shared scripts are split by marker letters and stopword profiles:
 *    Cyrillic — ы/э → Russian, і/ї/є/ґ → Ukrainian, frequent ъ without ы/э → Bulgarian;
 *    Arabic script — ے ں ٹ ڈ ڑ → Urdu, Persian-only letters (پ چ ژ گ, Persian ی/ک) →
 *    Persian, otherwise Arabic; Devanagari — Hindi / Marathi / Nepali by function words;
 *    Latin — the language whose function words and distinctive letters (ñ, ã, ß, ł, ư…)
 *    occur most, English when nothing matches.
 * Codes follow ISO 639-1 as the `langdetect` package returns them.
 *
 * Limits: it knows the 30 languages of IFEval's language list plus Dutch, Swedish,
 * Danish, Norwegian, Indonesian, Turkish, Czech, Romanian, Greek and Chinese. Latin-script
 * texts of a few words with no function word are guessed as English; closely related
 * languages (Spanish/Catalan/Galician, Danish/Norwegian, Hindi/Marathi on very short text)
 * can be confused; mixed-language texts get the language of the larger part.
 * Returns `null` when the text has no letters at all (the reference then counts the
 * instruction as followed).
 */

type Script =
  | "latin"
  | "cyrillic"
  | "greek"
  | "arabic"
  | "hebrew"
  | "devanagari"
  | "bengali"
  | "gurmukhi"
  | "gujarati"
  | "tamil"
  | "telugu"
  | "kannada"
  | "malayalam"
  | "thai"
  | "hangul"
  | "kana"
  | "han"
  | "georgian"
  | "armenian";

const SCRIPT_RANGES: [Script, RegExp][] = [
  ["latin", /\p{Script=Latin}/u],
  ["cyrillic", /\p{Script=Cyrillic}/u],
  ["greek", /\p{Script=Greek}/u],
  ["arabic", /\p{Script=Arabic}/u],
  ["hebrew", /\p{Script=Hebrew}/u],
  ["devanagari", /\p{Script=Devanagari}/u],
  ["bengali", /\p{Script=Bengali}/u],
  ["gurmukhi", /\p{Script=Gurmukhi}/u],
  ["gujarati", /\p{Script=Gujarati}/u],
  ["tamil", /\p{Script=Tamil}/u],
  ["telugu", /\p{Script=Telugu}/u],
  ["kannada", /\p{Script=Kannada}/u],
  ["malayalam", /\p{Script=Malayalam}/u],
  ["thai", /\p{Script=Thai}/u],
  ["hangul", /\p{Script=Hangul}/u],
  ["kana", /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ["han", /\p{Script=Han}/u],
  ["georgian", /\p{Script=Georgian}/u],
  ["armenian", /\p{Script=Armenian}/u],
];

const SINGLE_LANGUAGE: Partial<Record<Script, string>> = {
  greek: "el",
  hebrew: "he",
  bengali: "bn",
  gurmukhi: "pa",
  gujarati: "gu",
  tamil: "ta",
  telugu: "te",
  kannada: "kn",
  malayalam: "ml",
  thai: "th",
  hangul: "ko",
  kana: "ja",
  georgian: "ka",
  armenian: "hy",
};

function words(s: string): string[] {
  return s.toLowerCase().match(/[\p{L}\p{M}]+(?:['’][\p{L}]+)?/gu) ?? [];
}

function profile(list: string): Set<string> {
  return new Set(list.split(/\s+/).filter(Boolean));
}

/** Function words (the most frequent words) per Latin-script language. */
const LATIN_STOPWORDS: Record<string, Set<string>> = {
  en: profile(
    "the and of to is in that it was for you with are this be on not have as at by from they we or an but his her which will would there their what can all has been one were if so do your about more when who he she i my our them these its than also into only some",
  ),
  es: profile(
    "el la los las de del que y en un una es por con para no se su sus al lo como más pero este esta son también está muy hay ser fue sobre entre cuando todo porque donde usted ya",
  ),
  pt: profile(
    "o os a as de do da dos das que e em um uma é para com não se por mais na no nas nos ao como mas foi seu sua ou são também está pelo pela isso quando muito já eu você ele ela",
  ),
  fr: profile(
    "le la les de des du et est un une en que qui dans pour pas sur au aux avec ce cette il elle ne se sont par plus ou mais nous vous leur ont été comme être fait très",
  ),
  de: profile(
    "der die das und ist nicht ein eine zu den von mit sich des auf für im dem es ich sie wir auch an als wie bei oder aus wird sind hat war nach noch einer kann",
  ),
  it: profile(
    "il lo la i gli le di del della che e è un una in per non con sono si da al alla come più ma anche questo questa ha nel nella dei delle essere molto",
  ),
  pl: profile(
    "i w z na się nie do to jest że o jak a co ale po tak za od jego przez są być jej tym oraz dla może już ich które który która tylko",
  ),
  fi: profile(
    "ja on ei se että oli hän ovat mutta kun myös tai ole joka sen kuin niin mitä voi nyt tämä ne olla minä sinä me te he jos vain ovat kanssa",
  ),
  vi: profile(
    "và của là có không được những một các người cho trong này đã với để khi như cũng từ đó thì rất nhiều chúng tôi bạn sẽ",
  ),
  sw: profile(
    "na ya wa kwa ni za la katika kama hii huo hiyo yake wake sana pia lakini au kuwa watu mimi wewe yeye sisi nyinyi wao hakuna kila ndani",
  ),
  nl: profile(
    "de het een en van is dat op te in zijn niet met voor er maar ook als aan bij om door wordt naar hij zij wij ze dit deze",
  ),
  sv: profile(
    "och att det som en på är av för med den till inte har de jag om ett var men så ska kan vi från detta",
  ),
  da: profile(
    "og at det som en på er af for med den til ikke har de jeg om et var men så skal kan vi fra dette",
  ),
  no: profile(
    "og at det som en på er av for med den til ikke har de jeg om et var men så skal kan vi fra dette ikkje",
  ),
  id: profile(
    "yang dan di ini itu dengan untuk dari tidak ada dalam akan pada juga saya kami mereka adalah atau bisa sudah",
  ),
  tr: profile(
    "ve bir bu da de için ile çok ama gibi daha olarak ne var ben sen o biz siz onlar değil mi olan kadar",
  ),
  cs: profile("a je se na v z že to s do o jako ale jsem jsou by pro tak jeho které který která není také"),
  ro: profile("și în de la a cu pe nu este că o un care pentru mai din se sunt ca dar sau fost"),
};

const LATIN_MARKERS: [string, RegExp][] = [
  ["es", /[ñ¿¡]/g],
  ["pt", /[ãõ]/g],
  ["fr", /[œèêëîûç]/g],
  ["de", /[ß]/g],
  ["pl", /[ąęłśźżćń]/g],
  ["vi", /[ăđơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ]/g],
  ["cs", /[ěřůň]/g],
  ["ro", /[șțş]/g],
  ["tr", /[ğış]/g],
];

const DEVANAGARI_STOPWORDS: Record<string, Set<string>> = {
  hi: profile("है हैं के की में से को और का यह नहीं था थी थे पर भी एक लिए कि जो कर हो तो इस वह ये"),
  mr: profile("आहे आहेत आणि या हे ते च्या मध्ये नाही करण्यासाठी होते झाले असे त्या व की तर एक म्हणून केले"),
  ne: profile("छ छन् हो र को मा लागि पनि गर्न थियो यो त्यो भएको गरेको हुन्छ छैन तर एक भने"),
};

function countOf(s: string, re: RegExp): number {
  return s.match(re)?.length ?? 0;
}

function best(scores: Record<string, number>, fallback: string): string {
  let top = fallback;
  let topScore = 0;
  for (const [lang, score] of Object.entries(scores)) {
    if (score > topScore) {
      top = lang;
      topScore = score;
    }
  }
  return top;
}

function stopwordScores(tokens: string[], profiles: Record<string, Set<string>>): Record<string, number> {
  const scores: Record<string, number> = {};
  for (const lang of Object.keys(profiles)) scores[lang] = 0;
  for (const t of tokens) for (const [lang, set] of Object.entries(profiles)) if (set.has(t)) scores[lang]++;
  return scores;
}

function latinLanguage(text: string): string {
  const lower = text.toLowerCase();
  const tokens = words(lower);
  const scores = stopwordScores(tokens, LATIN_STOPWORDS);
  for (const [lang, re] of LATIN_MARKERS) scores[lang] += 2 * countOf(lower, re);
  // German umlauts are shared with Finnish/Swedish; count them only as a weak hint
  scores.de += 0.5 * countOf(lower, /[äöü]/g);
  scores.fi += 0.5 * countOf(lower, /[äö]/g) * (/(?:aa|ee|ii|uu|yy|ää|öö)/.test(lower) ? 1 : 0);
  // English is the default: another language needs some evidence of its own ("a", "to",
  // "do" are words in several languages, so two shared words must not outvote English)
  const english = scores.en;
  const guess = best(scores, "en");
  return guess !== "en" && scores[guess] >= 2 && scores[guess] > english ? guess : "en";
}

function cyrillicLanguage(text: string): string {
  const lower = text.toLowerCase();
  const ru = countOf(lower, /[ыэё]/g);
  const uk = countOf(lower, /[іїєґ]/g);
  const bgHard = countOf(lower, /ъ/g);
  if (uk > ru && uk > 0) return "uk";
  if (ru > 0) return "ru";
  if (bgHard > 0) return "bg";
  const scores = stopwordScores(words(lower), {
    ru: profile("и в не на что с как это по он она они но из у за от же то так все был была"),
    bg: profile("и в на е се за от да не това са той тя те но с като по ще към има"),
    uk: profile("і в на що не з як це та до він вона вони але від за так"),
  });
  return best(scores, "ru");
}

function arabicLanguage(text: string): string {
  const urdu = countOf(text, /[ےںٹڈڑ]/g);
  const persian = countOf(text, /[پچژگ]/g) + countOf(text, /[یک]/g);
  const arabic = countOf(text, /[ةيك]/g) + countOf(text, /[ىإأ]/g);
  if (urdu > 0) return "ur"; // these letters are not used in Persian or Arabic
  if (persian > arabic) return "fa";
  return "ar";
}

function hanLanguage(text: string): string {
  // a handful of very common characters written differently in the two standards
  const simplified = countOf(text, /[这说们国时对会来还经过发现问题学实长门车马东为与么边样开关见间点]/g);
  const traditional = countOf(text, /[這說們國時對會來還經過發現問題學實長門車馬東為與麼邊樣開關見間點]/g);
  return traditional > simplified ? "zh-tw" : "zh-cn";
}

/** ISO 639-1 code of the language of `text`, or null when it has no letters. */
export function detectLanguage(text: string): string | null {
  text = text.replace(/\b(?:https?:\/\/|www\.)\S+|\S+@\S+\.\w+/gi, " ");
  const counts = new Map<Script, number>();
  for (const ch of text) {
    if (!/\p{L}|\p{M}/u.test(ch)) continue;
    for (const [script, re] of SCRIPT_RANGES) {
      if (re.test(ch)) {
        counts.set(script, (counts.get(script) ?? 0) + 1);
        break;
      }
    }
  }
  if (counts.size === 0) return null;
  // Japanese mixes kana and Han: judge the pair together
  const kana = counts.get("kana") ?? 0;
  const han = counts.get("han") ?? 0;
  if (kana > 0 && han > 0) {
    counts.set("kana", kana + han);
    counts.delete("han");
  }
  let script: Script = "latin";
  let most = -1;
  for (const [s, n] of counts) {
    if (n > most) {
      script = s;
      most = n;
    }
  }
  const single = SINGLE_LANGUAGE[script];
  if (single) return single;
  switch (script) {
    case "han":
      return hanLanguage(text);
    case "cyrillic":
      return cyrillicLanguage(text);
    case "arabic":
      return arabicLanguage(text);
    case "devanagari":
      return best(stopwordScores(words(text), DEVANAGARI_STOPWORDS), "hi");
    default:
      return latinLanguage(text);
  }
}

/** Whether `detected` satisfies an expected ISO 639-1 code (`zh` accepts zh-cn and zh-tw). */
export function languageMatches(detected: string, expected: string): boolean {
  return detected === expected || (expected === "zh" && detected.startsWith("zh-"));
}
