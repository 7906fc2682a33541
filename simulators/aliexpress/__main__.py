"""`python -m simulators.aliexpress --port 8102 --app-key K --app-secret S`: run the simulator standalone."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from simulators.aliexpress.server import AliExpressSimulator

DEMO_PRODUCTS = [
    {
        "product_id": "1005008453688391",
        "store_id": "1103800006",
        "store_name": "Kedi Bottles Store",
        "subject": "500ML Insulated Water Bottle",
        "skus": [
            {"sku_id": "12000037020000371", "sku_attr": "14:193#Silver", "price": "8.12", "stock": 500},
            {"sku_id": "12000037020000372", "sku_attr": "14:175#Black", "price": "8.12", "stock": 500},
        ],
    },
    {
        "product_id": "1005006001234567",
        "store_id": "1102000777",
        "store_name": "Sunny Apparel Store",
        "subject": "Elegant Flounce Mini Skirt",
        "skus": [{"sku_id": "12000036000000001", "sku_attr": "", "price": "12.50", "stock": 200}],
    },
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulators.aliexpress", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8102)
    parser.add_argument("--app-key", default="sim-app-key")
    parser.add_argument("--app-secret", default="sim-app-secret")
    parser.add_argument("--seed", type=int, default=None, help="random seed (order ids, shapes)")
    parser.add_argument("--rate-limit", type=float, default=None, help="calls/s for the app (ApiCallLimit)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API call")
    parser.add_argument("--auto-pay", action="store_true", help="orders are paid as soon as placed")
    parser.add_argument("--ship-delay", type=float, default=None, help="seconds from payment to shipping")
    parser.add_argument("--demo", action="store_true", help="seed demo products and print a token pair")
    args = parser.parse_args(argv)

    config: dict[str, Any] = {"rate_limit": args.rate_limit, "latency": args.latency, "auto_pay": args.auto_pay}
    if args.ship_delay is not None:
        config["ship_delay"] = args.ship_delay
    sim = AliExpressSimulator(
        args.host, args.port, args.app_key, args.app_secret, seed=args.seed, **config
    ).start()
    print(sim.url, flush=True)
    if args.demo:
        sim.seed_products(DEMO_PRODUCTS)
        # A local, throwaway simulator credential: printing it is what --demo is for.
        print(json.dumps(sim.issue_token()), flush=True)
    sim.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
