"""Custom AMI builds: bake a template's Spack software into an image once, create clusters in minutes.

* :mod:`pctl.ami.base`      the official ParallelCluster AMI to start from
* :mod:`pctl.ami.builder`   launch a build (reuse by fingerprint first), roll back what a failed launch made
* :mod:`pctl.ami.agent`     the on-instance agent (stdlib + boto3; uploaded to S3, never imported by pctl)
* :mod:`pctl.ami.userdata`  the builder's user data (a few hundred bytes whatever the template size)
* :mod:`pctl.ami.iam`       the per-build least-privilege instance profile
* :mod:`pctl.ami.store`     build records, progress and logs in ``s3://pctl-<account>-<region>/builds/<id>/``
* :mod:`pctl.ami.status`    reading a build from any machine, reconciling it with EC2, watching it
* :mod:`pctl.ami.estimates` time estimates before and during a build, calibrated on past builds
* :mod:`pctl.ami.manage`    list and delete AMIs, build logs, cleanup of orphans

AWS is the source of truth: builds live in S3 and every instance, image, snapshot and role carries a
``pctl:build-id`` tag; pctl keeps no local state about builds.
"""
