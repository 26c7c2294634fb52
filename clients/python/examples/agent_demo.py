#!/usr/bin/env python3
"""A short agent-like session against the demo data (`scripts/up` loads it): the intents an
LLM would emit for "what comes after Fullmetal Alchemist: Brotherhood, who made it, what else
did they make", and the prompt text each answer adds to the model's context.

    build/python-venv/bin/python clients/python/examples/agent_demo.py [--address HOST:PORT]
"""
import argparse
import asyncio
import json

from postgres_graph_client import (AsyncPostgresGraphExecutor, ClientSettings, GraphError,
                                   TlsOptions)

FMAB = "de0a0000-0000-4000-8000-000000000003"  # Fullmetal Alchemist: Brotherhood
FMA = "de0a0000-0000-4000-8000-000000000001"  # Fullmetal Alchemist (2003)
BEBOP = "de0a0000-0000-4000-8000-000000000017"  # Cowboy Bebop


async def session(executor):
    steps = [
        ("What comes after it?",
         {"query_type": "neighbors", "start_node_id": FMAB, "edge_types": ["sequel"]}),
        ("Nothing directly: how is it related to the rest of its franchise?",
         {"query_type": "k_hop", "start_node_id": FMAB,
          "edge_types": ["SEQUEL", "PREQUEL", "ALTERNATIVE", "SIDE_STORY"], "max_hops": 3}),
        ("Who made it (compared with the first adaptation)?",
         {"query_type": "compare", "start_node_id": FMA, "end_node_id": FMAB}),
        ("What else did that studio make?",
         {"query_type": "neighbors", "start_node_id": FMAB, "edge_types": ["same_studio"]}),
        ("How is it connected to Cowboy Bebop?",
         {"query_type": "path", "start_node_id": FMAB, "end_node_id": BEBOP}),
        # An LLM's mistake is refused before any call, with words it can act on.
        ("(a malformed intent)",
         {"query_type": "k_hop", "start_node_id": FMAB, "edge_types": ["sequels"]}),
    ]
    for question, intent in steps:
        print("## " + question)
        print("intent: " + json.dumps(intent))
        try:
            print((await executor.execute(intent)).to_prompt())
        except GraphError as e:
            print("refused: %s" % e)
        print()


def main():
    env = ClientSettings.from_env()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--address", default=env.address)
    parser.add_argument("--token", default=env.token, help="bearer token (serve --read-auth)")
    parser.add_argument("--tls-ca", default=env.tls.ca_file if env.tls else None)
    args = parser.parse_args()
    tls = TlsOptions(ca_file=args.tls_ca) if args.tls_ca else None

    async def run():
        async with AsyncPostgresGraphExecutor(args.address, token=args.token, tls=tls) as ex:
            await session(ex)
    asyncio.run(run())


if __name__ == "__main__":
    main()
