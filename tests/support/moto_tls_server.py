"""Run moto's server with one shim for bucket policies: every request to it arrives over TLS, so
policies may rely on aws:SecureTransport.

moto (5.x) does not put aws:SecureTransport into its condition context, and it answers DENIED for
any statement whose condition does not match, whatever the statement's Effect. Together these make
the standard TLS-only statement ({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport":
"false"}}}) deny every call. The shim supplies aws:SecureTransport=true, as AWS does for HTTPS
requests, and treats a Deny statement whose condition does not match as not applying (AWS's rule).
A statement whose only principal is an AWS service never applies to the caller (ParallelCluster's
own bucket policy has one for CloudWatch Logs).

    python moto_tls_server.py -H 127.0.0.1 -p PORT -c CERT -k KEY
"""

import sys

from moto.iam import access_control as _ac

_orig_permitted = _ac.IAMPolicyStatement.is_action_permitted


def _values(incoming):
    values = dict(incoming or {})
    values.setdefault("aws:SecureTransport", "true")
    return values


def _bool_conditions_match(statement, values) -> bool | None:
    """Evaluate Bool conditions on keys we know; None when the statement has other conditions."""
    cond = statement.get("Condition") or {}
    if set(cond) != {"Bool"}:
        return None
    for key, expected in cond["Bool"].items():
        if key not in values:
            return None
        wanted = [str(x).lower() for x in (expected if isinstance(expected, list) else [expected])]
        if str(values[key]).lower() not in wanted:
            return False
    return True


def _is_action_permitted(self, action, resource="*", principal=None, incoming_condition_values=None):
    values = _values(incoming_condition_values)
    who = self._statement.get("Principal")
    if isinstance(who, dict) and set(who) == {"Service"}:
        # a statement for an AWS service (logs.amazonaws.com writing into ParallelCluster's bucket) says
        # nothing about the caller; moto would answer DENIED when its condition does not match
        return _ac.PermissionResult.NEUTRAL
    if _bool_conditions_match(self._statement, values) is False:
        return _ac.PermissionResult.NEUTRAL  # the statement does not apply to this (secure) request
    return _orig_permitted(self, action, resource, principal, values)


_ac.IAMPolicyStatement.is_action_permitted = _is_action_permitted

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
