"""Known deviations of moto (moto_server) from real AWS KMS.

Keys are test names or node-id substrings; values are the reason. When the
suite runs against moto (KMS_CONTRACT_TARGET=moto), conftest.py marks every
matching test ``xfail(strict=True)``: if moto is fixed, the test XPASSes and
the run fails, so this list has to be kept true.

Only deviations that were actually observed against moto belong here.
"""

MOTO: dict[str, str] = {}
