"""The nginx config and Lua module turnout generates: a balancer that picks the color per request.

The live split sits in a `lua_shared_dict` that every worker reads on each request, so a switch is
one PUT to the admin listener: no reload, no worker restart, keep-alive client connections untouched.
State is plain `key=value` lines (Debian's Lua module has no JSON library):

    green=30                                   percent of production traffic to green
    test=blue                                  color of the test listener
    peers.blue=127.0.0.1:9001,127.0.0.1:9002   instances per color
    peers.green=127.0.0.1:9003

A PUT carries only the keys it changes and answers with the whole state it now serves.
"""

from __future__ import annotations

from pathlib import Path

LUA = r"""
-- turnout: per-request color choice for nginx (balancer_by_lua), state in a shared dict.
local balancer = require "ngx.balancer"
local M = {}
local dict = ngx.shared.turnout
local traffic = ngx.shared.turnout_traffic
-- latency bucket bounds, seconds (one more bucket for anything slower)
local BOUNDS = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
local cache_version, cache = -1, nil
local rr = {blue = 0, green = 0}

local function parse(text, base)
  local s = {green = base and base.green or 0, test = base and base.test or "green",
             peers = {blue = base and base.peers.blue or {}, green = base and base.peers.green or {}}}
  for key, value in string.gmatch(text, "([%w%.]+)=([^\n]*)") do
    if key == "green" then
      local g = tonumber(value)
      if not g or g < 0 or g > 100 or g % 1 ~= 0 then return nil, "green must be 0..100" end
      s.green = g
    elseif key == "test" then
      if value ~= "blue" and value ~= "green" then return nil, "test must be blue or green" end
      s.test = value
    elseif key == "peers.blue" or key == "peers.green" then
      local list = {}
      for host, port in string.gmatch(value, "([%d%.]+):(%d+)") do
        list[#list + 1] = {host, tonumber(port)}
      end
      s.peers[string.sub(key, 7)] = list
    else
      return nil, "unknown key " .. key
    end
  end
  return s
end

local function render(s)
  local out = {"green=" .. s.green, "test=" .. s.test}
  for _, color in ipairs({"blue", "green"}) do
    local addrs = {}
    for i, p in ipairs(s.peers[color]) do addrs[i] = p[1] .. ":" .. p[2] end
    out[#out + 1] = "peers." .. color .. "=" .. table.concat(addrs, ",")
  end
  return table.concat(out, "\n") .. "\n"
end

local function current()
  local version = dict:get("version") or 0
  if version ~= cache_version then
    cache = parse(dict:get("state") or "") -- written only after it parsed, so it parses
    cache_version = version
  end
  return cache
end

function M.init(state_file, token_file)
  local f = io.open(state_file, "r")
  if f then
    local text = f:read("*a"); f:close()
    if parse(text) then dict:set("state", text); dict:incr("version", 1, 0) end
  end
  local t = io.open(token_file, "r")
  if t then M.token = string.match(t:read("*a"), "%S+"); t:close() end
end

function M.balance(listener)
  local s = current()
  local color = ngx.ctx.turnout_color or s.test -- a retry stays on the color the request was given
  if listener == "production" and not ngx.ctx.turnout_color then
    color = (s.green >= 100 or (s.green > 0 and math.random(100) <= s.green)) and "green" or "blue"
    ngx.ctx.turnout_color = color
  end
  local peers = s.peers[color]
  if #peers == 0 then return ngx.exit(503) end
  rr[color] = rr[color] % #peers + 1
  local ok, err = balancer.set_current_peer(peers[rr[color]][1], peers[rr[color]][2])
  if not ok then ngx.log(ngx.ERR, "turnout: set_current_peer: ", err); return ngx.exit(500) end
end

-- log_by_lua of the production listener: the request's color, status and latency into the dict.
function M.count()
  local color = ngx.ctx.turnout_color
  local status = ngx.status
  if not color or status < 100 or status == 499 then return end -- 499: the client left first
  traffic:incr(color .. ".requests", 1, 0)
  if status >= 500 then traffic:incr(color .. ".errors", 1, 0) end
  local elapsed = ngx.now() - ngx.req.start_time()
  local bucket = #BOUNDS + 1
  for i = 1, #BOUNDS do
    if elapsed <= BOUNDS[i] then bucket = i; break end
  end
  traffic:incr(color .. ".b" .. bucket, 1, 0)
end

function M.traffic()
  if M.token and ngx.var.http_authorization ~= "Bearer " .. M.token then return ngx.exit(401) end
  local out = {"bounds=" .. table.concat(BOUNDS, ",")}
  for _, color in ipairs({"blue", "green"}) do
    local buckets = {}
    for i = 1, #BOUNDS + 1 do buckets[i] = traffic:get(color .. ".b" .. i) or 0 end
    out[#out + 1] = color .. "=" .. (traffic:get(color .. ".requests") or 0) .. ","
                    .. (traffic:get(color .. ".errors") or 0) .. "," .. table.concat(buckets, ",")
  end
  ngx.header["Content-Type"] = "text/plain"
  ngx.print(table.concat(out, "\n") .. "\n")
end

function M.admin()
  if M.token and ngx.var.http_authorization ~= "Bearer " .. M.token then return ngx.exit(401) end
  if ngx.req.get_method() == "PUT" then
    ngx.req.read_body()
    local s, err = parse(ngx.req.get_body_data() or "", current())
    if not s then ngx.status = 400; ngx.say(err); return ngx.exit(400) end
    dict:set("state", render(s))
    dict:incr("version", 1, 0)
  end
  ngx.header["Content-Type"] = "text/plain"
  ngx.print(render(current()))
end

return M
"""


def render_config(
    *, folder: Path, production: str, test: str, admin: str, workers: str, keepalive: int,
    timeout_server: float, lua_modules: Path, max_body_size: str = "0",
) -> str:
    def upstream(name: str, listener: str) -> str:
        return (f"    upstream {name} {{\n"
                f"        server 0.0.0.1:1;  # placeholder: the Lua balancer picks every peer\n"
                f"        balancer_by_lua_block {{ turnout.balance(\"{listener}\") }}\n"
                f"        keepalive {keepalive};\n"
                f"    }}\n")

    def proxy(listen: str, name: str, count: bool = False) -> str:
        return (f"    server {{\n"
                f"        listen {listen};\n"
                f"        client_max_body_size {max_body_size};\n"
                f"        location / {{\n"
                + ("            log_by_lua_block { turnout.count() }\n" if count else "")
                + f"            proxy_pass http://{name};\n"
                f"            proxy_http_version 1.1;\n"
                f"            proxy_set_header Connection \"\";\n"
                f"            proxy_set_header Host $http_host;\n"
                f"            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                f"        }}\n"
                f"    }}\n")

    tmp = folder / "tmp"
    return (
        f"# Generated by turnout: edits are overwritten.\n"
        f"load_module {lua_modules / 'ndk_http_module.so'};\n"
        f"load_module {lua_modules / 'ngx_http_lua_module.so'};\n"
        f"daemon off;\n"
        f"worker_processes {workers};\n"
        f"pid {folder / 'nginx-master.pid'};\n"
        f"error_log stderr warn;  # into nginx.log, where turnout reads why a start failed\n"
        f"events {{ worker_connections 4096; }}\n"
        f"http {{\n"
        f"    access_log off;\n"
        f"    client_body_temp_path {tmp / 'body'};\n"
        f"    proxy_temp_path {tmp / 'proxy'};\n"
        f"    fastcgi_temp_path {tmp / 'fastcgi'};\n"
        f"    uwsgi_temp_path {tmp / 'uwsgi'};\n"
        f"    scgi_temp_path {tmp / 'scgi'};\n"
        # Stream both ways: nothing to buffer to disk, and slow responses are never held back.
        f"    proxy_buffering off;\n"
        f"    proxy_request_buffering off;\n"
        f"    proxy_read_timeout {int(timeout_server * 1000)}ms;\n"
        f"    keepalive_timeout 30s;\n"
        f"    keepalive_requests 100000;\n"
        f"    lua_package_path \"{folder}/?.lua;;\";\n"
        f"    lua_shared_dict turnout 1m;\n"
        f"    lua_shared_dict turnout_traffic 1m;  # production requests per color (the watch reads it)\n"
        f"    init_by_lua_block {{\n"
        f"        turnout = require \"turnout\"\n"
        f"        turnout.init(\"{folder / 'state.txt'}\", \"{folder / 'admin.token'}\")\n"
        f"    }}\n"
        f"    init_worker_by_lua_block {{ math.randomseed(ngx.now() * 1000 + ngx.worker.pid()) }}\n"
        + upstream("turnout_production", "production")
        + upstream("turnout_test", "test")
        + proxy(production, "turnout_production", count=True)
        + proxy(test, "turnout_test")
        + f"    server {{\n"
        f"        listen {admin};\n"
        f"        client_max_body_size 64k;  # routing state only\n"
        f"        location = /turnout/state {{ content_by_lua_block {{ turnout.admin() }} }}\n"
        f"        location = /turnout/traffic {{ content_by_lua_block {{ turnout.traffic() }} }}\n"
        f"        location / {{ return 404; }}\n"
        f"    }}\n"
        f"}}\n"
    )
