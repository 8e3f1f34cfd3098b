"""Run moto's server with one shim for bucket policies: every request to it arrives over TLS, so
policies may rely on aws:SecureTransport.

moto (5.x) does not put aws:SecureTransport into its condition context, and it answers DENIED for
any statement whose condition does not match, whatever the statement's Effect. Together these make
the standard TLS-only statement ({"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport":
"false"}}}) deny every call. The shim supplies aws:SecureTransport=true, as AWS does for HTTPS
requests, and treats a Deny statement whose condition does not match as not applying (AWS's rule).

A second shim makes FSx file systems look as AWS makes them: ids of fs- and 17 hex digits (moto 5 makes 8,
which ParallelCluster's own schema rejects for FSx for Lustre), and an elastic network interface in the
first subnet with the file system's security groups, reported as VpcId/NetworkInterfaceIds (ParallelCluster
checks an existing file system's network through them).

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
    if _bool_conditions_match(self._statement, values) is False:
        return _ac.PermissionResult.NEUTRAL  # the statement does not apply to this (secure) request
    return _orig_permitted(self, action, resource, principal, values)


_ac.IAMPolicyStatement.is_action_permitted = _is_action_permitted


def _aws_shaped_fsx_ids() -> None:
    import uuid

    from moto.fsx import models as _fsx

    original = _fsx.FileSystem.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        old = self.file_system_id
        new = "fs-" + uuid.uuid4().hex[:17]
        self.file_system_id = new
        self.dns_name = self.dns_name.replace(old, new)
        self.resource_arn = self.resource_arn.replace(old, new)

        from moto.ec2.models import ec2_backends

        ec2 = ec2_backends[self.backend.account_id][self.backend.region_name]
        subnet = ec2.get_subnet(self.subnet_ids[0])
        eni = ec2.create_network_interface(subnet, None, group_ids=list(self.security_group_ids or []),
                                           description=f"ENI for FSx file system {new}")
        self.vpc_id = subnet.vpc_id
        self.network_interface_ids = [eni.id]

    original_to_dict = _fsx.FileSystem.to_dict

    def to_dict(self):
        d = original_to_dict(self)
        d.setdefault("VpcId", getattr(self, "vpc_id", None))
        d.setdefault("NetworkInterfaceIds", getattr(self, "network_interface_ids", []))
        return d

    _fsx.FileSystem.__init__ = __init__
    _fsx.FileSystem.to_dict = to_dict


_aws_shaped_fsx_ids()

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
