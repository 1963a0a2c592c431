-- kv's Lua prelude: builds the sandbox scripts run in, once per interpreter. It runs with the
-- interpreter's real global table, before that table is hidden behind a read-only proxy, and
-- gets the Rust primitives as its argument. Its own frames are named "=kv" so that the error
-- handler can skip them when it reports where a script failed. It returns what the engine
-- uses: `compile`, the error handler, the real global table (where a script's KEYS and ARGV
-- go), `load` for a functions interpreter, and the proxy that becomes the global table.
local prim = ...
local G = _G
local error, type, tostring, tonumber, pairs, setmetatable, getmetatable, rawset, rawget, loadstring,
      pcall, select =
      error, type, tostring, tonumber, pairs, setmetatable, getmetatable, rawset, rawget, loadstring,
      pcall, select
local getinfo = debug.getinfo
local error_value = prim.error_value

-- Tables scripts may read but not change (Redis patches its Lua to mark tables read-only;
-- here each is a proxy in front of the real one).
local readonly = setmetatable({}, {__mode = 'k'})
local function readonly_error()
  error('Attempt to modify a readonly table', 2)
end
local function protect(t)
  local mt = {__index = t, __newindex = readonly_error, __metatable = false}
  local proxy = setmetatable({}, mt)
  readonly[proxy] = true
  return proxy, mt
end

-- The redis.* functions that can fail are Rust functions (prim), so that a failure is
-- raised from the script's own frame even in a tail call (`return redis.call(...)`): Redis's
-- are C functions, and its error messages name the script's line.
local redis = {}
for _, name in pairs({'call', 'pcall', 'sha1hex', 'error_reply', 'status_reply', 'log',
                      'setresp', 'set_repl', 'acl_check_cmd'}) do
  redis[name] = prim[name]
end
function redis.replicate_commands() return true end
function redis.breakpoint() return false end
function redis.debug() end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.REDIS_VERSION, redis.REDIS_VERSION_NUM = prim.version, prim.version_num

-- Redis's math.random: Lua's own, over a 48-bit generator that gives the same sequence for
-- the same seed on every machine, reseeded with 0 before each script.
local rand48, floor = prim.rand48, math.floor
local RAND_MAX = 2147483647
local function int_arg(v, n)
  local x = tonumber(v)
  if not x then
    error("bad argument #" .. n .. " to 'random' (number expected, got " ..
          (v == nil and 'no value' or type(v)) .. ")", 0)
  end
  return x - x % 1
end
math.random = function(...)
  local r = (rand48() % RAND_MAX) / RAND_MAX
  local n = select('#', ...)
  if n == 0 then return r end
  if n == 1 then
    local u = int_arg((...), 1)
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 0) end
    return floor(r * u) + 1
  end
  if n == 2 then
    local l, u = ...
    l, u = int_arg(l, 1), int_arg(u, 2)
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 0) end
    return floor(r * (u - l + 1)) + l
  end
  error('wrong number of arguments', 0)
end
math.randomseed = function(seed)
  prim.srand48(int_arg(seed, 1))
end

-- The globals scripts see: Redis's lists, less what it leaves out (os, io, print, dofile,
-- loadfile, require, module, getfenv, setfenv, newproxy, debug).
for _, name in pairs({'os', 'io', 'print', 'dofile', 'loadfile', 'require', 'module',
                      'package', 'getfenv', 'setfenv', 'newproxy', 'debug'}) do
  G[name] = nil
end
for name, lib in pairs(prim.libraries) do G[name] = lib end
G.redis = redis
for _, name in pairs({'string', 'math', 'table', 'coroutine', 'redis', 'cjson', 'bit',
                      'cmsgpack', 'struct'}) do
  if type(G[name]) == 'table' then G[name] = protect(G[name]) end
end

-- rawset and setmetatable honour the read-only tables, as Redis's patched Lua does.
G.rawset = function(t, k, v)
  if readonly[t] then error('Attempt to modify a readonly table', 0) end
  return rawset(t, k, v)
end
-- Redis's pcall hands a script the text of a redis.call error, not its table.
local function pcall_result(ok, ...)
  if ok then return true, ... end
  local e = ...
  if type(e) == 'userdata' then e = error_value(e) end
  if type(e) == 'table' and type(e.err) == 'string' then e = e.err end
  return false, e
end
G.pcall = function(f, ...)
  return pcall_result(pcall(f, ...))
end
G.setmetatable = function(t, mt)
  if readonly[t] then error('Attempt to modify a readonly table', 0) end
  return setmetatable(t, mt)
end

-- Reading a global that does not exist is an error, not nil.
local function missing(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end
setmetatable(G, {__index = missing})
local globals, globals_mt = protect(G)
G._G = globals

-- The error handler: the error as a table with an `err` text, and where the script was when
-- it failed (the innermost frame of the script's own code).
local function handler(e)
  local level, info = 2, getinfo(2, 'Sl')
  while info and (info.what == 'C' or info.what == 'tail' or info.source == '=kv') do
    level = level + 1
    info = getinfo(level, 'Sl')
  end
  if type(e) == 'userdata' then
    e = error_value(e)
  end
  if type(e) ~= 'table' then
    e = {err = 'ERR ' .. tostring(e)}
  end
  if info then
    e.source = info.source
    e.line = info.currentline
  end
  return e
end

local engine = {}
-- Compiles a script body: its function, or nil and the compiler's message.
function engine.compile(body, name)
  return loadstring(body, name)
end
-- The engine calls scripts and functions itself (`convert::trampoline`), in a protected call
-- with this error handler, after setting KEYS and ARGV in the real global table for a script.
engine.handler = handler
engine.G = G
engine.globals = globals

-- Functions (FUNCTION LOAD, FCALL) run in an interpreter of their own. While a library's code
-- runs to register its functions, the globals are only `redis` with register_function, log
-- and the version: anything else is a missing global, as in Redis.
if prim.functions then
  local load_redis = setmetatable({
    register_function = prim.register_function,
    log = prim.log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = prim.version, REDIS_VERSION_NUM = prim.version_num,
  }, {__index = missing})
  local load_api = setmetatable({redis = protect(load_redis)}, {__index = missing})
  -- Runs a library's code with the load-time globals: true, or false and the error.
  function engine.load(fn)
    globals_mt.__index = load_api
    local ok, e = pcall(fn)
    globals_mt.__index = G
    if not ok and type(e) == 'userdata' then e = error_value(e) end
    return ok, e
  end
end
return engine
