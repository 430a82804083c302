-- SPDX-License-Identifier: LGPL-2.1-or-later
-- A wrk script that checks every reply: status 200 and a body equal, byte
-- for byte, to the file named by $PSS_WRK_EXPECT (the file nginx serves).
-- done() prints "checked N bad B requests R", the socket errors, and the
-- latency (max and p99, microseconds).
local expected
do
	local f = assert(io.open(os.getenv("PSS_WRK_EXPECT"), "rb"))
	expected = f:read("*a")
	f:close()
end

local threads = {}

function setup(thread)
	table.insert(threads, thread)
end

function init(args)
	good = 0
	bad = 0
end

function response(status, headers, body)
	if status == 200 and body == expected then
		good = good + 1
	else
		bad = bad + 1
	end
end

function done(summary, latency, requests)
	local g, b = 0, 0
	for _, t in ipairs(threads) do
		g = g + t:get("good")
		b = b + t:get("bad")
	end
	local e = summary.errors
	io.write(string.format("checked %d bad %d requests %d\n", g, b, summary.requests))
	io.write(string.format("errors connect %d read %d write %d status %d timeout %d\n",
		e.connect, e.read, e.write, e.status, e.timeout))
	io.write(string.format("latency max_us %d p99_us %d\n", latency.max, latency:percentile(99)))
end
