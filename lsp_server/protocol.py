"""The JSON-RPC protocol class of the server (pygls' ``LanguageServerProtocol``, one fix)."""

from __future__ import annotations

from typing import Any

import cattrs
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pygls.protocol import JsonRPCNotification, LanguageServerProtocol


class SquasherProtocol(LanguageServerProtocol):
    """pygls' protocol, except that a request whose parameters do not fit the LSP types
    (a negative line, a missing field) gets a JSON-RPC error response.

    pygls raises while decoding such a message and only logs it, so the client waited
    for an answer forever.
    """

    def structure_message(self, data: dict[str, Any]) -> Any:
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if not (isinstance(data, dict) and "id" in data and "method" in data):
                raise  # a notification or a response: nobody waits for an answer
            cause = exc.__cause__
            detail = "; ".join(cattrs.transform_error(cause)) if isinstance(
                cause, cattrs.ClassValidationError) else str(cause or exc)
            error = JsonRpcInvalidParams(f"invalid params for {data['method']}: {detail}") \
                if isinstance(exc, JsonRpcInvalidParams) else exc
            self._send_response(data["id"], error=error.to_response_error())
            # Handled: hand pygls a notification nobody listens to ("$/" may be ignored).
            return self._converter.structure(
                {"jsonrpc": "2.0", "method": "$/squasher/invalidRequest"}, JsonRPCNotification)
