"""Thumbnailer: the tenant's queue-driven image job (deployed by the
`aws.lambda.function` kind of envctl from stacks/assets/thumbnailer).

Each SQS record names an uploaded image (bucket and key). The handler works
out where the thumbnail goes and reports it; the actual resizing is done by
the image library layer in production and is left out of this sample so the
package stays dependency-free.
"""

import json
import os

THUMB_PREFIX = os.environ.get("THUMB_PREFIX", "thumbnails/")
THUMB_WIDTH = int(os.environ.get("THUMB_WIDTH", "256"))


def thumbnail_key(key: str) -> str:
    """uploads/cat.png -> thumbnails/256/uploads/cat.png"""
    return f"{THUMB_PREFIX}{THUMB_WIDTH}/{key.lstrip('/')}"


def handler(event, context):
    done = []
    for record in event.get("Records", []):
        try:
            body = json.loads(record.get("body") or "{}")
        except json.JSONDecodeError:
            body = {}
        bucket = body.get("bucket") or os.environ.get("UPLOADS_BUCKET", "")
        key = body.get("key")
        if not key:
            continue
        done.append({"bucket": bucket, "source": key, "thumbnail": thumbnail_key(key)})
    return {"processed": len(done), "items": done}
