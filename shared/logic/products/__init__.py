"""Product import (issue 12): URL → draft (import list) → edit → price → push to ShopBase → monitor."""
