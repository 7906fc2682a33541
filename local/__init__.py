"""The whole system on one machine: moto as AWS, the template's wiring, the simulators."""
