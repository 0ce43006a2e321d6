#!/usr/bin/env bash
# `make run`: generates a story on the default model.
# The model is $CRIA_MODEL if set, else the first file found of:
#   ../shared/models/stories260K.bin (with ../shared/models/tok512.bin)
#   models/stories260K.bin (with models/tok512.bin)
#   ../shared/models/stories260K-f32.gguf
set -u
cria=${1:-build/cria}
root=$(cd "$(dirname "$0")/.." && pwd)
prompt=${CRIA_PROMPT:-Once upon a time}
if [[ -n ${CRIA_MODEL:-} ]]; then
  args=(-m "$CRIA_MODEL"); [[ -n ${CRIA_VOCAB:-} ]] && args+=(--vocab "$CRIA_VOCAB")
  exec "$cria" run "${args[@]}" -p "$prompt" -n 200
fi
for dir in "$root/../shared/models" "$root/models"; do
  if [[ -f $dir/stories260K.bin && -f $dir/tok512.bin ]]; then
    exec "$cria" run -m "$dir/stories260K.bin" --vocab "$dir/tok512.bin" -p "$prompt" -n 200
  fi
done
if [[ -f $root/../shared/models/stories260K-f32.gguf ]]; then
  exec "$cria" run -m "$root/../shared/models/stories260K-f32.gguf" -p "$prompt" -n 200
fi
cat >&2 <<MSG
make run: no model found. Looked for:
  \$CRIA_MODEL (unset)
  $root/../shared/models/stories260K.bin + tok512.bin
  $root/models/stories260K.bin + tok512.bin
  $root/../shared/models/stories260K-f32.gguf
Get one (llama2.c's 260K-parameter TinyStories model, MIT licensed):
  mkdir -p models
  curl -L -o models/stories260K.bin https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/stories260K.bin
  curl -L -o models/tok512.bin      https://huggingface.co/karpathy/tinyllamas/resolve/main/stories260K/tok512.bin
then run 'make run' again, or point CRIA_MODEL (and CRIA_VOCAB) at any GGUF or llama2.c model.
MSG
exit 1
