-- wrk scenario of bench/bench_booking.py: each request searches a schedule's first free slots
-- from one of the first days on (start=ge..., as a patient wants the soonest); with
-- BENCH_MODE=book the response of a search queues the booking of one of the slots found
-- (POST /fhir/Appointment, status booked: a teleconsultation taking the doctor's slot and the
-- slot of the doctor's room at the same time, as the booking page does), which the thread's
-- next request sends, so connections collide. With BENCH_MODE=search connections only search (the
-- read-only load, as pgbench's select-only).
--
-- Connections wait for nothing between requests (a closed loop, like pgbench's clients). A 409
-- is the expected answer when another connection took the slot first: it is counted apart
-- from the other failures. wrk gives each thread its own Lua state, shared by the thread's
-- connections, so the queue of bookings and the counters are per thread; done() adds them up
-- and prints one line "WRK_RESULT <json>" for the benchmark to read. The bookings sent are
-- counted too: wrk drops the requests in flight when it stops, and the server may still commit
-- those, so the benchmark expects between the 201s and the 201s plus those unanswered in SQL.
--
-- The seed (tokens, schedules, practitioners, patients, days) is a Lua file returning a table,
-- named by BENCH_SEED_LUA (written by the benchmark).

local SEED = dofile(os.getenv("BENCH_SEED_LUA"))
local BOOK = os.getenv("BENCH_MODE") == "book"
local FIRST_DAYS = math.min(5, #SEED.days)
local THREADS = tonumber(os.getenv("BENCH_THREADS")) or 1 -- wrk's -t

-- schedule id -> practitioner id and room id (index i of schedules is index i of both)
local PRACTITIONER, ROOM = {}, {}
for i, schedule in ipairs(SEED.schedules) do
  PRACTITIONER[schedule] = SEED.practitioners[i]
  ROOM[schedule] = SEED.rooms[i]
end

local function urlencode(text)
  return (text:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function json_string(text)
  local escaped = text:gsub('[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\" end
    return string.format("\\u%04x", c:byte())
  end)
  return '"' .. escaped .. '"'
end

-- Setup and done: the main Lua state, which sees every thread.

local threads = {}

function setup(thread)
  -- wrk starts each thread before it sets up the next: only the thread being set up may be
  -- written to (writing to a running thread's Lua state raced, and crashed a run once). The
  -- number of threads comes from the environment.
  table.insert(threads, thread)
  thread:set("thread_id", #threads)
end

-- Running: one Lua state per thread.

local queue, tokens_used = {}, 0

function init(args)
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
  -- Counters, read by done() through thread:get.
  searches, bookings, conflicts = 0, 0, 0
  booking_requests = 0 -- sent, answered or not: wrk drops those in flight when it stops
  failures = {} -- status (as a string) -> count
  first_failure = nil
end

local function token()
  -- Of T threads, thread t takes tokens t, t + T, t + 2T, ... (wrapping), so that the
  -- connections between them use every coordinator's token.
  local n = #SEED.tokens
  local index = ((thread_id or 1) - 1 + tokens_used * THREADS) % n + 1
  tokens_used = tokens_used + 1
  return SEED.tokens[index]
end

local function search()
  local schedule = SEED.schedules[math.random(#SEED.schedules)]
  local day = SEED.days[math.random(FIRST_DAYS)]
  local path = "/fhir/Slot?schedule=" .. urlencode("Schedule/" .. schedule)
    .. "&start=ge" .. urlencode(day) .. "&status=free&_count=10"
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token() })
end

local function book(slot)
  local patient = SEED.patients[math.random(#SEED.patients)]
  local body = '{"resourceType":"Appointment","status":"booked",'
    .. '"serviceType":[{"coding":[{"system":"urn:maillage:workflow",'
    .. '"code":"teleconsultation"}]}],'
    .. '"start":' .. json_string(slot.start) .. ',"end":' .. json_string(slot["end"]) .. ','
    .. '"slot":[{"reference":' .. json_string("Slot/" .. slot.id) .. '},'
    .. '{"reference":' .. json_string("Slot/room-" .. slot.id) .. '}],'
    .. '"participant":['
    .. '{"actor":{"reference":' .. json_string("Patient/" .. patient) .. '},'
    .. '"status":"accepted"},'
    .. '{"actor":{"reference":' .. json_string("Practitioner/" .. slot.practitioner) .. '},'
    .. '"status":"accepted"},'
    .. '{"actor":{"reference":' .. json_string("Location/" .. slot.room) .. '},'
    .. '"status":"accepted"}]}'
  local headers = {
    ["Authorization"] = "Bearer " .. token(),
    ["Content-Type"] = "application/fhir+json",
  }
  return wrk.format("POST", "/fhir/Appointment", headers, body)
end

function request()
  local slot = table.remove(queue, 1)
  if slot then
    booking_requests = booking_requests + 1
    return book(slot)
  end
  return search()
end

-- The JSON object whose "{" is at `open`: the index of its closing "}" and its top level text,
-- nested objects and arrays emptied ("{}", "[]"), so that fields are read at the top level
-- only, whatever their order; nil if it does not close. Strings (escapes included) are skipped
-- whole, so braces inside them do not count.
local function scan_object(text, open)
  local depth, pos, keep, parts = 0, open, open, {}
  while true do
    local i, _, c = text:find('(["{}%[%]])', pos)
    if not i then
      return nil
    end
    if c == '"' then
      local j = i + 1
      while true do
        local k, _, q = text:find('(["\\])', j)
        if not k then
          return nil
        end
        if q == "\\" then
          j = k + 2
        else
          j = k + 1
          break
        end
      end
      pos = j
    elseif c == "{" or c == "[" then
      depth = depth + 1
      if depth == 2 then
        parts[#parts + 1] = text:sub(keep, i)
      end
      pos = i + 1
    else
      depth = depth - 1
      if depth == 1 then
        keep = i
      elseif depth == 0 then
        parts[#parts + 1] = text:sub(keep, i)
        return i, table.concat(parts)
      end
      pos = i + 1
    end
  end
end

local function field(object, name)
  return object:match('"' .. name .. '"%s*:%s*"([^"\\]*)"')
end

-- The slots of a searchset: id, start, end and the schedule's practitioner of each resource.
local function slots(body)
  local found, pos = {}, 1
  while true do
    local _, open = body:find('"resource"%s*:%s*{', pos)
    if not open then
      return found
    end
    local close, top = scan_object(body, open)
    if not close then
      return found
    end
    local object = body:sub(open, close)
    local schedule = object:match('"schedule"%s*:%s*{[^{}]-"reference"%s*:%s*"Schedule/([^"]*)"')
    local slot = {
      id = field(top, "id"),
      start = field(top, "start"),
      ["end"] = field(top, "end"),
      practitioner = schedule and PRACTITIONER[schedule],
      room = schedule and ROOM[schedule],
    }
    if slot.id and slot.start and slot["end"] and slot.practitioner then
      found[#found + 1] = slot
    end
    pos = close + 1
  end
end

local function failed(status, body)
  local key = tostring(status)
  failures[key] = (failures[key] or 0) + 1
  if not first_failure then
    first_failure = key .. " " .. (body or ""):sub(1, 300)
  end
end

-- Only the booking phase reads the answers: without a response() function wrk neither keeps
-- the bodies nor calls into Lua for each answer, which in the read-only phase, the fastest,
-- crashed wrk once (a segmentation fault); done() counts that phase's answers from wrk's own
-- summary (every request a search; a non-2xx status a failure).
if BOOK then
  function response(status, headers, body)
    if status == 200 and body:find('"searchset"', 1, true) then
      searches = searches + 1
      local free = slots(body)
      if #free > 0 then
        table.insert(queue, free[math.random(#free)])
      end
    elseif status == 201 then
      bookings = bookings + 1
    elseif status == 409 then
      conflicts = conflicts + 1
    else
      failed(status, body)
    end
  end
end

-- Done: the main Lua state again.

local function json_value(value)
  if type(value) == "table" then
    local items = {}
    for k, v in pairs(value) do
      items[#items + 1] = json_string(tostring(k)) .. ":" .. json_value(v)
    end
    table.sort(items)
    return "{" .. table.concat(items, ",") .. "}"
  elseif type(value) == "string" then
    return json_string(value)
  elseif value == nil then
    return "null"
  elseif value ~= value or value == math.huge or value == -math.huge then
    return "null"
  elseif value == math.floor(value) and math.abs(value) < 2 ^ 53 then
    return string.format("%d", value)
  end
  return string.format("%.10g", value)
end

function done(summary, latency, requests)
  local total = { searches = 0, bookings = 0, conflicts = 0, failures = {}, first = nil }
  total.booking_requests = 0
  for _, thread in ipairs(threads) do
    total.booking_requests = total.booking_requests + (thread:get("booking_requests") or 0)
    total.searches = total.searches + (thread:get("searches") or 0)
    total.bookings = total.bookings + (thread:get("bookings") or 0)
    total.conflicts = total.conflicts + (thread:get("conflicts") or 0)
    for status, count in pairs(thread:get("failures") or {}) do
      total.failures[status] = (total.failures[status] or 0) + count
    end
    total.first = total.first or thread:get("first_failure")
  end
  local e = summary.errors
  if not BOOK then
    total.searches = summary.requests - e.status
    if e.status > 0 then
      total.failures["non-2xx"] = e.status
    end
  end
  local items = {
    '"duration_s":' .. json_value(summary.duration / 1e6),
    '"requests":' .. json_value(summary.requests),
    '"searches":' .. json_value(total.searches),
    '"bookings":' .. json_value(total.bookings),
    '"conflicts":' .. json_value(total.conflicts),
    '"booking_requests":' .. json_value(total.booking_requests),
    '"failures":' .. json_value(total.failures),
    '"first_failure":' .. json_value(total.first),
    '"p50_ms":' .. json_value(latency:percentile(50) / 1000),
    '"p99_ms":' .. json_value(latency:percentile(99) / 1000),
    '"socket_errors":' .. json_value({
      connect = e.connect, read = e.read, write = e.write, status = e.status, timeout = e.timeout,
    }),
  }
  io.write("WRK_RESULT {" .. table.concat(items, ",") .. "}\n")
end
