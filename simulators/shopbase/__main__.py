"""`python -m simulators.shopbase --port 8101`: run the simulator until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
import os
import threading

from simulators.shopbase.server import ShopBaseSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="ShopBase Admin API simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--shop", action="append", default=[], help="create this shop (repeatable)")
    parser.add_argument("--orders", type=int, default=0, help="generated paid orders per shop")
    parser.add_argument("--leak-rate", type=float, default=2.0)
    parser.add_argument("--burst", type=int, default=30)
    parser.add_argument("--strict-carriers", action="store_true")
    parser.add_argument("--duplicate-rate", type=float, default=0.0)
    parser.add_argument("--reorder", action="store_true")
    parser.add_argument("--max-delivery-attempts", type=int, default=3)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    sim = ShopBaseSimulator(
        args.host,
        args.port,
        burst=args.burst,
        leak_rate=args.leak_rate,
        strict_carriers=args.strict_carriers,
        delivery="background",
        duplicate_rate=args.duplicate_rate,
        reorder=args.reorder,
        max_delivery_attempts=args.max_delivery_attempts,
        retry_delay=1.0,
        seed=args.seed,
    ).start()
    # Credentials come from the environment so they are never printed.
    token = os.environ.get("SHOPBASE_SIM_ACCESS_TOKEN", "sim-access-token")
    secret = os.environ.get("SHOPBASE_SIM_WEBHOOK_SECRET", "sim-webhook-secret")
    for name in args.shop:
        sim.create_shop(name, access_token=token, webhook_secret=secret)
        for _ in range(args.orders):
            sim.make_order(name, n_items=2, paid=True)
    print(f"ShopBase simulator listening on {sim.url}", flush=True)
    for name in args.shop:
        print(f"  shop {name}: base_url {sim.shop_url(name)}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
