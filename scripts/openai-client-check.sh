#!/usr/bin/env bash
# Drives cria serve with the official OpenAI client library (npm "openai"), as the issue asks: models,
# completions and chat completions, plain and streamed, log-probabilities, and a wrong API key. Not part of `make test`
# (it needs the npm registry): run it by hand. The client goes into a temporary folder outside the repo.
#
#   scripts/openai-client-check.sh [build/cria] [MODEL] [VOCAB]
set -euo pipefail
bin=${1:-build/cria}
shared=${CRIA_SHARED:-$(cd "$(dirname "$0")/../.." && pwd)/shared}
model=${2:-$shared/models/stories260K.bin}
vocab=${3:-$shared/models/tok512.bin}
tmp=$(mktemp -d)
log=$tmp/serve.log
cleanup() { [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

(cd "$tmp" && npm init -y >/dev/null && npm install --silent --no-audit --no-fund openai@4 >/dev/null)
"$bin" serve -m "$model" --vocab "$vocab" --host 127.0.0.1 --port 0 -np 4 -c 2048 -t 1 --api-key k3y 2>"$log" &
pid=$!
for _ in $(seq 100); do grep -q "listening on" "$log" && break; sleep 0.1; done
port=$(sed -n 's/.*listening on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$log")
[[ -n $port ]] || { cat "$log"; echo "openai-client-check: the server did not start" >&2; exit 1; }

cat >"$tmp/check.mjs" <<'EOF'
import OpenAI from "openai";
import assert from "node:assert/strict";
const baseURL = `http://127.0.0.1:${process.env.PORT}/v1`;
const client = new OpenAI({ apiKey: "k3y", baseURL, maxRetries: 0 });

const models = await client.models.list();
assert.equal(models.data.length, 1);

const c = await client.completions.create({ model: "m", prompt: "Once upon a time", max_tokens: 16, temperature: 0 });
assert.equal(c.object, "text_completion");
assert.equal(c.usage.completion_tokens, 16);
let streamed = "";
for await (const ch of await client.completions.create({ model: "m", prompt: "Once upon a time", max_tokens: 16,
                                                          temperature: 0, stream: true }))
  streamed += ch.choices[0].text;
assert.equal(streamed, c.choices[0].text);

const messages = [{ role: "system", content: "Tell a story." }, { role: "user", content: "A dog" }];
const chat = await client.chat.completions.create({ model: "m", messages, max_tokens: 16, temperature: 0 });
assert.equal(chat.choices[0].message.role, "assistant");
let delta = "";
for await (const ch of await client.chat.completions.create({ model: "m", messages, max_tokens: 16, temperature: 0,
                                                               stream: true }))
  delta += ch.choices[0]?.delta?.content ?? "";
assert.equal(delta, chat.choices[0].message.content);

const lp = await client.completions.create({ model: "m", prompt: "Once upon a time", max_tokens: 8, temperature: 0,
                                            logprobs: 3 });
assert.equal(lp.choices[0].logprobs.tokens.join(""), lp.choices[0].text);
assert.equal(Object.keys(lp.choices[0].logprobs.top_logprobs[0]).length, 3);
const chatLp = await client.chat.completions.create({ model: "m", messages, max_tokens: 8, temperature: 0,
                                                      logprobs: true, top_logprobs: 2 });
const entries = chatLp.choices[0].logprobs.content;
assert.equal(entries.length, chatLp.usage.completion_tokens);
assert.ok(entries.every((e) => e.logprob <= 0 && e.top_logprobs.length === 2 && e.top_logprobs[0].token === e.token));
let streamedLp = [];
for await (const ch of await client.chat.completions.create({ model: "m", messages, max_tokens: 8, temperature: 0,
                                                               logprobs: true, top_logprobs: 2, stream: true }))
  streamedLp = streamedLp.concat(ch.choices[0]?.logprobs?.content ?? []);
assert.deepEqual(streamedLp.map((e) => e.token), entries.map((e) => e.token));

const bad = new OpenAI({ apiKey: "wrong", baseURL, maxRetries: 0 });
await assert.rejects(bad.models.list(), (e) => e.status === 401);
await assert.rejects(client.completions.create({ model: "m", prompt: "Hi", max_tokens: -1 }), (e) => e.status === 400);
await assert.rejects(client.chat.completions.create({ model: "m", messages, top_logprobs: 2 }), (e) => e.status === 400);
console.log("openai-client-check: ok (" + JSON.stringify(c.choices[0].text) + ")");
EOF
PORT=$port node "$tmp/check.mjs"
