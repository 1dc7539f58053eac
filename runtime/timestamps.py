"""Times as a person reads them in a list: 'today 14:05', 'yesterday 23:59', '3 Dec 09:41', '24 Dec 2025'."""
from __future__ import annotations

import time


def short_time(at: float, now: float) -> str:
    """`at` (seconds since the epoch) in local time, as short as `now` allows without ambiguity."""
    moment, today = time.localtime(at), time.localtime(now)
    day = time.strftime("%Y-%m-%d", moment)
    if day == time.strftime("%Y-%m-%d", today):
        return time.strftime("today %H:%M", moment)
    if day == time.strftime("%Y-%m-%d", time.localtime(now - 86_400)):
        return time.strftime("yesterday %H:%M", moment)
    if moment.tm_year == today.tm_year:
        return f"{moment.tm_mday} {time.strftime('%b %H:%M', moment)}"
    return f"{moment.tm_mday} {time.strftime('%b %Y', moment)}"
