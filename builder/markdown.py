"""Text from a project file shown through Streamlit's Markdown (labels, messages) stays text."""
import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$:])")


def escape(text: str) -> str:
    """Backslash-escapes Markdown syntax, so `[x](javascript:...)` or `**` shows as typed."""
    return _SPECIAL.sub(r"\\\1", str(text))
