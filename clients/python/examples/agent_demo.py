#!/usr/bin/env python3
"""A short agent-like session against the demo data (`scripts/up` loads it): the intents an
LLM would emit for "what comes after Fullmetal Alchemist: Brotherhood, who made it, what else
did they make", and the prompt text each answer adds to the model's context.

    build/python-venv/bin/python clients/python/examples/agent_demo.py [--address HOST:PORT]
"""
import argparse
import asyncio

from postgres_graph_client import (AsyncPostgresGraphExecutor, ClientSettings, GraphError,
                                   TlsOptions)

FMAB = "de0a0000-0000-4000-8000-000000000003"  # Fullmetal Alchemist: Brotherhood
FMA = "de0a0000-0000-4000-8000-000000000001"  # Fullmetal Alchemist (2003)


def first_hub(result, edge_type):
    """The hub (studio, character, work) of the first edge of `edge_type` in an answer."""
    for n in result.data.neighbors:
        if n.edge_type == edge_type and n.via is not None:
            return n.via.id
    return None


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
    ]
    for question, intent in steps:
        print("## " + question)
        print("intent: %s" % intent)
        result = await executor.execute(intent)
        print(result.to_prompt())
        print()
    # The agent follows a hub: from Brotherhood to the other work of its studio, explained.
    studio_answer = await executor.execute(steps[3][1])
    others = [n.node_id for n in studio_answer.data.neighbors]
    if others:
        print("## How does it connect to %s?" % others[-1])
        intent = {"query_type": "path", "start_node_id": FMAB, "end_node_id": others[-1]}
        print("intent: %s" % intent)
        print((await executor.execute(intent)).to_prompt())
        print()
    # An LLM's mistake is refused before any call, with words it can act on.
    print("## A malformed intent")
    try:
        await executor.execute({"query_type": "k_hop", "start_node_id": FMAB,
                                "edge_types": ["sequels"]})
    except GraphError as e:
        print("refused: %s" % e)


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
