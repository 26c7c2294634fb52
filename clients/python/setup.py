"""Generates the protobuf modules from the service's .proto files while building the package.

The generated code is never committed: protoc (Debian's protobuf-compiler) writes it into the
build tree, from PSVC_PROTO_DIR (default: the repository's proto/ beside this folder).
"""
import os
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_FILES = ["anime/graph/v1/graph_service.proto"]
GENERATED_PACKAGE = "postgres_graph_client/_generated"


class BuildWithProtos(build_py):
    def run(self):
        super().run()
        proto_dir = os.environ.get("PSVC_PROTO_DIR") or os.path.join(HERE, "..", "..", "proto")
        out = os.path.join(self.build_lib, GENERATED_PACKAGE)
        os.makedirs(out, exist_ok=True)
        subprocess.run(["protoc", "-I", proto_dir, "--python_out=" + out,
                        *[os.path.join(proto_dir, f) for f in PROTO_FILES]], check=True)
        # Packages all the way down, so the modules import by their proto path.
        for root, _, _ in os.walk(out):
            open(os.path.join(root, "__init__.py"), "a").close()


setup(cmdclass={"build_py": BuildWithProtos})
