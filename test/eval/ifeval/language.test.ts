import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { detectLanguage, languageMatches } from "../../../src/eval/ifeval/language.js";

const shared = new URL("../../../../shared/", import.meta.url);

/** One ordinary sentence per language of IFEval's language list (and Chinese). */
const SAMPLES: Record<string, string> = {
  en: "The weather is nice today and we are going to the park with our friends.",
  es: "El tiempo es agradable hoy y vamos al parque con nuestros amigos.",
  pt: "O tempo está bom hoje e nós vamos ao parque com os nossos amigos.",
  fr: "Le temps est agréable aujourd'hui et nous allons au parc avec nos amis.",
  de: "Das Wetter ist heute schön und wir gehen mit unseren Freunden in den Park.",
  it: "Il tempo è bello oggi e andiamo al parco con i nostri amici.",
  pl: "Pogoda jest dziś ładna i idziemy do parku z naszymi przyjaciółmi.",
  fi: "Sää on tänään kaunis ja me menemme puistoon ystäviemme kanssa.",
  vi: "Hôm nay thời tiết đẹp và chúng tôi sẽ đi công viên với bạn bè.",
  sw: "Hali ya hewa ni nzuri leo na tunaenda kwenye bustani pamoja na marafiki zetu.",
  ru: "Сегодня хорошая погода, и мы идём в парк с нашими друзьями.",
  uk: "Сьогодні гарна погода, і ми йдемо до парку з нашими друзями.",
  bg: "Днес времето е хубаво и ние отиваме в парка с нашите приятели, защото слънцето грее.",
  ar: "الطقس جميل اليوم ونحن ذاهبون إلى الحديقة مع أصدقائنا.",
  fa: "هوا امروز خوب است و ما با دوستانمان به پارک می‌رویم.",
  ur: "آج موسم اچھا ہے اور ہم اپنے دوستوں کے ساتھ پارک جا رہے ہیں۔",
  he: "מזג האוויר נעים היום ואנחנו הולכים לפארק עם החברים שלנו.",
  hi: "आज मौसम अच्छा है और हम अपने दोस्तों के साथ पार्क जा रहे हैं।",
  mr: "आज हवामान छान आहे आणि आम्ही आमच्या मित्रांसोबत उद्यानात जात आहोत.",
  ne: "आज मौसम राम्रो छ र हामी हाम्रा साथीहरूसँग पार्क जाँदैछौं।",
  bn: "আজ আবহাওয়া ভালো এবং আমরা বন্ধুদের সাথে পার্কে যাচ্ছি।",
  pa: "ਅੱਜ ਮੌਸਮ ਵਧੀਆ ਹੈ ਅਤੇ ਅਸੀਂ ਦੋਸਤਾਂ ਨਾਲ ਪਾਰਕ ਜਾ ਰਹੇ ਹਾਂ।",
  gu: "આજે હવામાન સરસ છે અને અમે મિત્રો સાથે બગીચામાં જઈએ છીએ.",
  ta: "இன்று வானிலை நன்றாக உள்ளது, நாங்கள் நண்பர்களுடன் பூங்காவுக்குச் செல்கிறோம்.",
  te: "ఈ రోజు వాతావరణం బాగుంది మరియు మేము స్నేహితులతో పార్కుకు వెళ్తున్నాము.",
  kn: "ಇಂದು ಹವಾಮಾನ ಚೆನ್ನಾಗಿದೆ ಮತ್ತು ನಾವು ಸ್ನೇಹಿತರೊಂದಿಗೆ ಉದ್ಯಾನಕ್ಕೆ ಹೋಗುತ್ತಿದ್ದೇವೆ.",
  ml: "ഇന്ന് കാലാവസ്ഥ നല്ലതാണ്, ഞങ്ങൾ സുഹൃത്തുക്കളോടൊപ്പം പാർക്കിലേക്ക് പോകുന്നു.",
  th: "วันนี้อากาศดีและเราจะไปสวนสาธารณะกับเพื่อนๆ",
  ko: "오늘은 날씨가 좋아서 친구들과 공원에 갑니다.",
  ja: "今日は天気が良いので、友達と公園に行きます。",
};

describe("detectLanguage", () => {
  for (const [lang, text] of Object.entries(SAMPLES)) {
    it(`recognises ${lang}`, () => assert.equal(detectLanguage(text), lang));
  }

  it("recognises Chinese rows of the shared Alpaca demo and English ones as English", () => {
    const zh = JSON.parse(readFileSync(new URL("data/sft/alpaca_zh_demo.json", shared), "utf8")) as {
      output: string;
    }[];
    const en = JSON.parse(readFileSync(new URL("data/sft/alpaca_en_demo.json", shared), "utf8")) as {
      output: string;
    }[];
    const zhHits = zh
      .slice(0, 50)
      .filter((r) => languageMatches(detectLanguage(r.output) ?? "", "zh")).length;
    const enLong = en.filter((r) => r.output.length > 200).slice(0, 50);
    const enHits = enLong.filter((r) => detectLanguage(r.output) === "en").length;
    assert.ok(zhHits >= 47, `zh ${zhHits}/50`);
    assert.ok(enHits >= 48, `en ${enHits}/${enLong.length}`);
  });

  it("returns null for text without letters", () => {
    assert.equal(detectLanguage("1234 !!! ..."), null);
    assert.equal(detectLanguage(""), null);
  });

  it("all-caps English stays English", () => {
    assert.equal(detectLanguage("PLEASE REMEMBER TO BRING THE BOOKS TO THE LIBRARY."), "en");
  });
});
