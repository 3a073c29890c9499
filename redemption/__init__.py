"""The redemption desk (积分超市): the catalog, stock, windows, redemptions and the fund behind them."""
