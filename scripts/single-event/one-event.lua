-- wrk script: one activity per POST /v1/activities, each with a fresh eventId, one of 5,000
-- actors and one of about 50,000 IPs. TOKEN (environment) is the bearer token. With PER_THREAD
-- set, each wrk thread stops after that many answers, so that a run under callgrind covers a
-- fixed number of requests.
local counter = 0
answered = 0
nthreads = 0
tid = 0

setup = function(thread)
  nthreads = nthreads + 1
  thread:set("tid", nthreads)
end

request = function()
  counter = counter + 1
  local id = tid .. "-" .. counter
  local body = '[{"eventId":"wrk-' .. id .. '","id":{"applicationName":"login"},'
    .. '"actor":{"email":"u' .. (counter % 5000) .. '@example.com"},'
    .. '"ipAddress":"203.0.' .. (counter % 250) .. '.' .. (counter % 199) .. '",'
    .. '"events":[{"name":"login_success","parameters":['
    .. '{"name":"login_type","value":"google_password"},{"name":"is_suspicious","boolValue":false}]}]}]'
  return wrk.format("POST", "/v1/activities",
    {["Authorization"] = "Bearer " .. os.getenv("TOKEN"), ["Content-Type"] = "application/json"}, body)
end

response = function(status)
  if status ~= 200 then io.write("status " .. status .. "\n") end
  answered = answered + 1
  if answered >= tonumber(os.getenv("PER_THREAD") or "1000000000") then wrk.thread:stop() end
end
