"""A serverless function (AWS Lambda, Google Cloud Functions style) whose prompts ship
with its code as a bundle.

Make the bundle in the deploy pipeline and package it with the function (or in a layer):

    promptops bundle --env prod -o prompts.bundle

The bundle is read and checked once per cold start, at import (a changed byte is
refused: ``BundleError``); every invocation then renders from memory. An online
variant with a fallback is ``Client(url, api_key=..., bundle="prompts.bundle")``:
it serves what the registry serves, and the bundle when the registry cannot answer.

Run locally: ``PROMPTOPS_BUNDLE=prompts.bundle python serverless_handler.py``
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Dict

from promptops import Client, RenderError

BUNDLE = os.environ.get(
    "PROMPTOPS_BUNDLE", os.path.join(os.path.dirname(os.path.abspath(__file__)), "prompts.bundle")
)

# At import: once per cold start, not once per request.
CLIENT = Client.from_bundle(BUNDLE)


def handler(event: Dict[str, Any], context: Any) -> Dict[str, Any]:
    """``event``: ``{"article": ..., "question": ...}``. Answers the chat messages the
    model would be sent, with the prompt version that made them."""
    prompt = CLIENT.get("support.answer", env="prod")
    try:
        messages = prompt.render({"article": event.get("article"), "question": event.get("question")})
    except RenderError as e:
        # The caller's fault (a missing or mistyped variable): say which, as a 400.
        return {"statusCode": 400, "body": json.dumps({"error": str(e)})}
    # A real handler would now send `messages` to its model.
    body = {
        "prompt": f"{prompt.id}@{prompt.version}",
        "content_hash": prompt.content_hash,
        "messages": messages,
    }
    return {"statusCode": 200, "body": json.dumps(body)}


if __name__ == "__main__":
    event = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {
        "article": "Refunds take 5 working days.",
        "question": "How long do refunds take?",
    }
    print(json.dumps(handler(event, None)))
