-- A viewer as the page polls the list: it sends the version it shows (?since=) and takes the new one from each
-- 200, so it gets a 204 while the list is unchanged and the new fragment once when it changes.
local path = "/containers"

request = function()
  return wrk.format("GET", path, { ["HX-Request"] = "true" })
end

response = function(status, headers, body)
  if status == 200 then
    local version = body:match("since=(%x+)")
    if version then path = "/containers?since=" .. version end
  end
end
