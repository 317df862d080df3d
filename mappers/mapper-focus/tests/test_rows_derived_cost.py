"""Costs finfocus computes (unit price x quantity) fit the dataset's 18 decimal places."""

from decimal import Decimal

from mapper_focus.rows import derived_cost


def test_a_product_that_fits_is_exact():
    assert str(derived_cost(Decimal("0.096"), Decimal("744"))) == "71.424"


def test_a_longer_product_is_rounded_half_even_to_18_places():
    price, quantity = Decimal("0.0912345678"), Decimal("6.5256789012")
    exact = price * quantity
    assert exact.as_tuple().exponent == -20
    result = derived_cost(price, quantity)
    assert result.as_tuple().exponent == -18
    assert abs(result - exact) <= Decimal("0.5e-18")
    assert result == exact.quantize(Decimal("1e-18"))
