"""One JSON media handler on reused msgspec encoder and decoder objects."""

from __future__ import annotations

from typing import Any

import falcon
import msgspec
from falcon.media import BaseHandler

encoder = msgspec.json.Encoder()
decoder = msgspec.json.Decoder()


class MsgspecJSONHandler(BaseHandler):
    def serialize(self, media: object, content_type: str | None = None) -> bytes:
        return encoder.encode(media)

    def deserialize(
        self, stream: Any, content_type: str | None, content_length: int | None
    ) -> object:
        try:
            return decoder.decode(stream.read())
        except msgspec.DecodeError as exc:
            raise falcon.MediaMalformedError("JSON") from exc

    _serialize_sync = serialize
