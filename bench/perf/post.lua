-- POST a different JSON email on every request.
local n = 0

request = function()
  n = n + 1
  local body = string.format(
    '{"to": "user%d@example.com", "to_name": "User %d", "subject": "Bench %d", "content": "# Hello\\n\\nA *bench* email number %d."}',
    n, n, n, n)
  return wrk.format("POST", "/email", {["Content-Type"] = "application/json"}, body)
end
