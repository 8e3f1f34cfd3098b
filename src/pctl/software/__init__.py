"""What software a cluster gets and where it comes from: the AMI's manifest (what an image holds,
written in its tags at build time and read back at create) and the layering decision (what is
in the AMI, what is installed at boot on top of it)."""
