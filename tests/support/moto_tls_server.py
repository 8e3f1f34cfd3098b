"""Run moto's server with the shims of moto_shims.py (where moto differs from AWS in ways pctl's tests depend
on: bucket-policy conditions over TLS, CloudFormation's EC2 resources, exports in use).

    python moto_tls_server.py -H 127.0.0.1 -p PORT [-c CERT -k KEY]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from moto_shims import install_all  # noqa: E402

install_all()

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
