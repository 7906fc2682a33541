"""The data layer: the only code that talks to DynamoDB."""
