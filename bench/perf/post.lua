-- POST a different JSON email on every request, with the API key in MICROMAILER_BENCH_KEY if set.
local n = 0
local key = os.getenv("MICROMAILER_BENCH_KEY")
local headers = {["Content-Type"] = "application/json"}
if key then
  headers["Authorization"] = "Bearer " .. key
end

request = function()
  n = n + 1
  local body = string.format(
    '{"to": "user%d@example.com", "to_name": "User %d", "subject": "Bench %d", "content": "# Hello\\n\\nA *bench* email number %d."}',
    n, n, n, n)
  return wrk.format("POST", "/email", headers, body)
end
