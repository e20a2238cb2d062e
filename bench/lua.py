"""wrk Lua scripts.

Every script counts, per thread, the responses that failed — a status other
than 2xx, or a 200 whose GraphQL body carries ``errors`` — and prints the
total as ``docgraph-failures: N`` when wrk is done, so a run that only
measured errors cannot pass for a fast one.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

_COMMON = """\
local threads = {{}}
local thread_count = 0
-- Unique to this run of wrk: keys and names built from it never repeat a run's.
local run_id = "{run_id}"

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_index", thread_count)
  thread:set("thread_seed", math.random(1, 2^30))
  table.insert(threads, thread)
end

failures = 0

local function check(status, body)
  if status < 200 or status > 299 or (body and body:find('"errors":', 1, true)) then
    failures = failures + 1
  end
end

function done(summary, latency, requests)
  local total, short = 0, 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("failures")
    short = short + (thread:get("exhausted") or 0)
  end
  io.write(string.format("docgraph-failures: %d\\n", total))
  io.write(string.format("docgraph-paths-reused: %d\\n", short))
end

local function lines(file)
  local list = {{}}
  for line in io.lines(file) do list[#list + 1] = line end
  return list
end
"""

_RANDOM_ID = _COMMON + """\
local ids = lines({ids_file})
local method = {method}
local path_template = {path}
local body_template = {body}
local headers = {headers}
local counter = 0

function init(args)
  math.randomseed(thread_seed)
end

function request()
  local id = ids[math.random(#ids)]
  counter = counter + 1
  local unique = run_id .. "-" .. thread_index .. "-" .. counter
  local path = path_template:gsub("__ID__", id)
  local body = nil
  if body_template ~= nil then
    body = body_template:gsub("__ID__", id):gsub("__N__", unique)
  end
  local h = {{}}
  for k, v in pairs(headers) do h[k] = v:gsub("__N__", unique) end
  return wrk.format(method, path, h, body)
end

function response(status, headers, body)
  check(status, body)
end
"""

# createDocument for a pre-uploaded path, then linkDocument of the document it
# created to a random contact: every request carries its own Idempotency-Key.
_CREATE_AND_LINK = _COMMON + """\
local contacts = lines({ids_file})
local paths = lines({paths_file})
local create_template = {create_body}
local link_template = {link_body}
local headers = {headers}
local created = {{}}
local next_path = 0
local counter = 0
exhausted = 0

function init(args)
  math.randomseed(thread_seed)
end

function request()
  counter = counter + 1
  local h = {{}}
  for k, v in pairs(headers) do h[k] = v end
  h["Idempotency-Key"] = "bench-" .. run_id .. "-" .. thread_index .. "-" .. counter
  local body
  if #created > 0 then
    local document = table.remove(created, 1)
    body = link_template:gsub("__DOC__", document):gsub("__ID__",
                              contacts[math.random(#contacts)])
  else
    -- thread k takes paths k, k + n, k + 2n, ... (n threads): each path once
    local index = thread_index + next_path * {threads}
    next_path = next_path + 1
    if index > #paths then
      exhausted = exhausted + 1
      index = math.random(#paths)
    end
    body = create_template:gsub("__PATH__", paths[index])
  end
  return wrk.format("POST", "/graphql", h, body)
end

function response(status, headers, body)
  check(status, body)
  local id = body:match('"createDocument":{{"id":"([%x%-]+)"')
  if id then created[#created + 1] = id end
end
"""


def _lua_string(value: str | None) -> str:
    if value is None:
        return "nil"
    return json.dumps(value)  # ASCII JSON string literals are valid Lua string literals


def _lua_table(values: dict[str, str]) -> str:
    return "{" + ", ".join(f"[{_lua_string(k)}] = {_lua_string(v)}"
                           for k, v in values.items()) + "}"


def random_id_script(path: Path, *, ids_file: Path, method: str, url_path: str,
                     headers: dict[str, str], body: str | None = None) -> Path:
    """Each request: ``method url_path`` with ``__ID__`` a random line of ``ids_file``
    and ``__N__`` (body and headers) a value unique to the request."""
    path.write_text(_RANDOM_ID.format(
        run_id=uuid.uuid4().hex, ids_file=_lua_string(str(ids_file)),
        method=_lua_string(method),
        path=_lua_string(url_path), body=_lua_string(body), headers=_lua_table(headers)))
    return path


def create_and_link_script(path: Path, *, ids_file: Path, paths_file: Path, create_body: str,
                           link_body: str, headers: dict[str, str], threads: int) -> Path:
    """Alternately createDocument (``__PATH__``: the next unused uploaded path) and
    linkDocument (``__DOC__``: a document just created, ``__ID__``: a random contact)."""
    path.write_text(_CREATE_AND_LINK.format(
        run_id=uuid.uuid4().hex, ids_file=_lua_string(str(ids_file)),
        paths_file=_lua_string(str(paths_file)),
        create_body=_lua_string(create_body), link_body=_lua_string(link_body),
        headers=_lua_table(headers), threads=threads))
    return path
