-- wrk script: sends each request with the next API key of a file (one key a line), so load comes
-- from many distinct identities. Arguments after `--`: KEYS_FILE HEADER_NAME THREADS.
-- Each wrk thread takes every THREADS-th key, so the threads together walk the whole file once
-- before any key repeats.

local next_id = 0

function setup(thread)
  thread:set("id", next_id)
  next_id = next_id + 1
end

function init(args)
  local file, threads = args[1], tonumber(args[3])
  header = args[2]
  keys = {}
  local i = 0
  for line in io.lines(file) do
    if i % threads == id then
      keys[#keys + 1] = line
    end
    i = i + 1
  end
  pos = math.floor(tonumber(args[4] or "0") / threads) % math.max(#keys, 1)
end

function request()
  pos = pos + 1
  if pos > #keys then
    pos = 1
  end
  return wrk.format("GET", nil, { [header] = keys[pos] })
end
