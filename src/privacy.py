"""Customer ids in logs and error messages: pseudonyms, never the ids themselves.

The pseudonym is the one `privacy.pseudonymise_ids` gives at load time: the first 16 hex digits
of sha256(salt + id), salted by the variable named by `privacy.salt_env`, so a logged id can be
matched against pseudonymised outputs by whoever holds the salt, and by nobody else.
"""

from __future__ import annotations

import hashlib
import os

__all__ = ["pseudonym"]


def pseudonym(customer_id: object, *, salt_env: str = "CUSTOMER_ML_SALT") -> str:
    """The id as logs show it: ``id:`` and 16 hex digits of sha256(salt + id).

    Parameters
    ----------
    customer_id
        the id as the client or the file gave it (converted with ``str``).
    salt_env
        the environment variable holding the salt (the config's ``privacy.salt_env``); when it
        is unset the hash is unsalted (still no id in the log, but guessable ids can be tested).
    """
    salt = os.environ.get(salt_env, "")
    return "id:" + hashlib.sha256((salt + str(customer_id)).encode()).hexdigest()[:16]
