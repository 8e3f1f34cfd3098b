"""Which subnets each queue gets: ParallelCluster's multi-AZ rules, and the zones that offer its instance types."""

from __future__ import annotations

import pytest

from pctl.errors import PctlError
from pctl.render.pcluster import NetworkLayout, Subnet, place_queue
from pctl.template.model import Template

NET = NetworkLayout(head=Subnet("subnet-pub1", "us-east-2a", True),
                    compute=(Subnet("subnet-priv1", "us-east-2a"), Subnet("subnet-priv2", "us-east-2b")))


def template(queues, storage=()):
    return Template.model_validate({"cluster": {"name": "t"}, "compute": {"head_node": "c6i.large", "queues": queues},
                                    "data": {"shared_storage": list(storage)}})


def test_spread_queue_uses_both_zones_and_efa_one():
    t = template([{"name": "cpu", "instance_types": ["c6i.large"]},
                  {"name": "mpi", "instance_types": ["hpc6a.48xlarge"], "efa": True}])
    cpu, mpi = (place_queue(q, t, NET) for q in t.compute.queues)
    assert cpu.subnets == ["subnet-priv1", "subnet-priv2"] and cpu.zones == ["us-east-2a", "us-east-2b"]
    assert mpi.subnets == ["subnet-priv1"] and "EFA" in mpi.reason and "head node's zone" in mpi.reason


def test_zones_that_do_not_offer_a_type_are_left_out():
    t = template([{"name": "cpu", "instance_types": ["c6i.large", "c7i.large"]},
                  {"name": "mpi", "instance_types": ["hpc6a.48xlarge"], "efa": True}])
    offerings = {"c6i.large": {"us-east-2a", "us-east-2b"}, "c7i.large": {"us-east-2b"},
                 "hpc6a.48xlarge": {"us-east-2b"}}
    cpu, mpi = (place_queue(q, t, NET, offerings) for q in t.compute.queues)
    assert cpu.subnets == ["subnet-priv2"] and "only us-east-2b" in cpu.reason
    assert mpi.subnets == ["subnet-priv2"] and "us-east-2b, the zone that offers hpc6a.48xlarge" in mpi.reason


def test_a_type_no_network_zone_offers_is_an_error_naming_the_zones_that_do():
    t = template([{"name": "mpi", "instance_types": ["hpc7a.96xlarge"], "efa": True}])
    with pytest.raises(PctlError) as exc:
        place_queue(t.compute.queues[0], t, NET, {"hpc7a.96xlarge": {"us-east-2c"}})
    assert "no zone of the network" in exc.value.message and "us-east-2c" in exc.value.hint


def test_managed_fsx_keeps_every_queue_in_one_subnet_that_offers_all_their_types():
    t = template([{"name": "cpu", "instance_types": ["c6i.large"]}, {"name": "mem", "instance_types": ["r7i.large"]}],
                 [{"type": "fsx_lustre", "mount_point": "/scratch"}])
    offerings = {"c6i.large": {"us-east-2a", "us-east-2b"}, "r7i.large": {"us-east-2b"}}
    placed = [place_queue(q, t, NET, offerings) for q in t.compute.queues]
    assert {tuple(p.subnets) for p in placed} == {("subnet-priv2",)}
    # an existing FSx file system does not pin the queues
    t = template([{"name": "cpu", "instance_types": ["c6i.large"]}],
                 [{"type": "fsx_lustre", "mount_point": "/scratch", "id": "fs-0123456789abcdef0"}])
    assert len(place_queue(t.compute.queues[0], t, NET).subnets) == 2
