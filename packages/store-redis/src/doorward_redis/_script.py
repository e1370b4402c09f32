"""The Lua script of one hit, shared by both faces (see ``_async/ratelimit.py``)."""

from __future__ import annotations

#: KEYS[1] the key's sorted set; ARGV: limit, now, now - window, expiry in ms, a member
#: unique to this hit. Answers nil when the hit is counted, else the score (time) of the
#: hit whose expiry frees a place, as text, since Lua numbers reach the client truncated.
HIT = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[3])
local count = redis.call('ZCARD', key)
if count >= limit then
  local blocking = redis.call('ZRANGE', key, count - limit, count - limit, 'WITHSCORES')
  return blocking[2]
end
redis.call('ZADD', key, ARGV[2], ARGV[5])
redis.call('PEXPIRE', key, ARGV[4])
return nil
"""
