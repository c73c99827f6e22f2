"""Who is acting, for the audit log: the OS user on this host, and the git identity when there is one."""

from __future__ import annotations

import getpass
import socket
import subprocess


def actor() -> str:
    user = f"{getpass.getuser()}@{socket.gethostname()}"
    try:
        email = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True, timeout=2,
                               check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        email = ""
    return f"{user} ({email})" if email else user
