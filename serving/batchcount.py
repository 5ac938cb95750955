"""Count the leads of a JSON request body while it arrives, without parsing it.

A body of 500,000 tiny HubSpot objects (13.5 MB, under the body-size limit) took 8.7 s to
be refused: BentoML parsed and validated every object before the service could count them,
blocking the worker (probes included) and growing it to 951 MB. `BatchCounter` is fed the
body chunk by chunk as the guard receives it and says as soon as a batch holds more than
`LEADSCORE_MAX_BATCH_SIZE` items, after reading only that many items' bytes.

What counts as the batch: the elements of the top-level array, or of the array that is the
value of a named top-level key (`{"leads": [...]}`, `{"results": [...]}`). Only the
structure is tracked (brackets, strings, and commas and keys at the top two levels); the
inside of each item is skipped by one regular-expression match per nested bracket, in C,
so counting costs a few microseconds per item. Malformed JSON stops the count: the request
then goes on to BentoML, which refuses it with its 400.
"""

from __future__ import annotations

import json
import re

# Anything but brackets, with complete strings skipped whole (possessive: no backtracking).
_SKIP_DEEP = re.compile(rb'(?:[^"\[\]{}]++|"[^"\\]*+(?:\\.[^"\\]*+)*+")*+')
# Anything but brackets, quotes, commas and colons.
_SKIP_SHALLOW = re.compile(rb'[^"\[\]{},:]*+')
_STRING = re.compile(rb'"[^"\\]*+(?:\\.[^"\\]*+)*+"')
# The rest of a string begun in an earlier chunk (stops before a lone trailing backslash).
_STRING_REST = re.compile(rb'[^"\\]*+(?:\\.[^"\\]*+)*+')
KEY_PREFIX = 256  # a longer key is no batch key
# Any other array at the top of the body (a key the service ignores, a legacy contact's
# `list-memberships`) may hold this many items before the body is refused: parsing it
# would stall the worker just the same.
OTHER_ARRAY_LIMIT = 10_000


class BatchCounter:
    """Feed it the body's chunks; `feed` returns True once a batch is over `limit` items
    (the top-level array, or a top-level key in `keys`) or another top-level array is over
    `OTHER_ARRAY_LIMIT`."""

    def __init__(self, limit: int, keys: frozenset[str]) -> None:
        self.limit = limit
        self.keys = keys
        self.other_limit = max(limit, OTHER_ARRAY_LIMIT)
        self.current = limit  # the limit of the array being counted
        self.stack = bytearray()  # open containers: ord("{") or ord("[")
        self.counted_depth = -1  # stack depth of the batch array (-1: none open)
        self.commas = 0  # in the batch array: n items have n - 1 commas
        self.last_string: bytes | None = None  # the last string at the top object's level
        self.in_string = False
        self.partial = b""  # the start of a string cut by a chunk's end (shallow only)
        self.carry = b""  # a lone backslash cut from a chunk's end, inside a string
        self.done = False  # malformed or finished: stop counting

    @property
    def over(self) -> bool:
        return self.counted_depth >= 0 and self.commas >= self.current

    def feed(self, chunk: bytes) -> bool:
        if self.done or not chunk:
            return self.over
        buf = self.carry + chunk if self.carry else chunk
        self.carry = b""
        pos, end = 0, len(buf)
        stack = self.stack
        while pos < end:
            if self.in_string:
                match = _STRING_REST.match(buf, pos)
                assert match is not None  # matches the empty string at least
                stop = match.end()
                if stop == end or buf[stop] == 0x5C:  # the chunk ends (maybe on a backslash)
                    if self.partial:
                        self.partial = (self.partial + buf[pos:stop])[:KEY_PREFIX]
                    self.carry = buf[stop:]
                    return self.over
                # buf[stop] is the closing quote
                if self.partial:
                    whole = self.partial + buf[pos : stop + 1]
                    self.last_string = whole if len(whole) <= KEY_PREFIX else b""
                    self.partial = b""
                self.in_string = False
                pos = stop + 1
                continue
            depth = len(stack)
            shallow = depth == self.counted_depth or (depth == 1 and stack[0] == 0x7B)
            if shallow:
                pos = _SKIP_SHALLOW.match(buf, pos).end()  # type: ignore[union-attr]
            else:
                pos = _SKIP_DEEP.match(buf, pos).end()  # type: ignore[union-attr]
            if pos >= end:
                break
            char = buf[pos]
            if char == 0x22:  # a quote: a string (shallow), or one cut by the chunk's end
                match = _STRING.match(buf, pos)
                if match is None:
                    self.in_string = True
                    if shallow and depth == 1:
                        self.partial = b'"'
                    pos += 1
                    continue
                if depth == 1:
                    self.last_string = match.group(0)
                pos = match.end()
            elif char in (0x7B, 0x5B):  # { [
                if char == 0x5B and self.counted_depth < 0 and depth <= 1:
                    self.counted_depth = depth + 1
                    self.commas = 0
                    self.current = self.limit if self.is_batch(depth) else self.other_limit
                stack.append(char)
                pos += 1
            elif char in (0x7D, 0x5D):  # } ]
                if not stack or stack[-1] != char - 2:
                    self.done = True  # malformed: BentoML answers it
                    return self.over
                stack.pop()
                if len(stack) + 1 == self.counted_depth:
                    # within its limit; go on: a later array (a repeated key) is counted anew
                    self.counted_depth = -1
                    self.commas = 0
                if not stack:
                    self.done = True
                    return self.over
                pos += 1
            else:  # , or : at a shallow level
                if char == 0x2C and depth == self.counted_depth:
                    self.commas += 1
                    if self.commas >= self.current:
                        return True
                pos += 1
        return self.over

    def is_batch(self, depth: int) -> bool:
        """Whether an array opened at `depth` is the batch: top-level, or a named key's value."""
        if depth == 0:
            return True
        if depth != 1 or self.stack[0] != 0x7B or not self.last_string:
            return False
        raw = self.last_string[1:-1]
        if b"\\" in raw:
            try:
                return bool(json.loads(self.last_string) in self.keys)
            except ValueError:
                return False
        return raw.decode("latin-1") in self.keys
