"""wrk Lua scripts: each request picks a random id from a file (one per line)."""

from __future__ import annotations

import json
from pathlib import Path

_TEMPLATE = """\
local ids = {{}}
for line in io.lines({ids_file}) do ids[#ids + 1] = line end
local method = {method}
local path_template = {path}
local body_template = {body}
local headers = {headers}
local counter = 0

function setup(thread)
  thread:set("thread_seed", math.random(1, 2^30))
end

function init(args)
  math.randomseed(thread_seed or os.time())
end

function request()
  local id = ids[math.random(#ids)]
  counter = counter + 1
  local path = path_template:gsub("__ID__", id)
  local body = nil
  if body_template ~= nil then
    body = body_template:gsub("__ID__", id):gsub("__N__", tostring(thread_seed) .. "-" .. counter)
  end
  local h = {{}}
  for k, v in pairs(headers) do h[k] = v:gsub("__N__", tostring(thread_seed) .. "-" .. counter) end
  return wrk.format(method, path, h, body)
end
"""


def _lua_string(value: str | None) -> str:
    if value is None:
        return "nil"
    return json.dumps(value)  # a JSON string literal is a valid Lua string literal here


def write_script(path: Path, *, ids_file: Path, method: str, url_path: str,
                 headers: dict[str, str], body: str | None = None) -> Path:
    """A script sending ``method url_path`` with ``__ID__`` replaced by a random id and
    ``__N__`` (in the body and headers) by a value unique to the request."""
    lua_headers = "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}"
                                  for k, v in headers.items()) + "}"
    path.write_text(_TEMPLATE.format(ids_file=_lua_string(str(ids_file)),
                                     method=_lua_string(method), path=_lua_string(url_path),
                                     body=_lua_string(body), headers=lua_headers))
    return path
