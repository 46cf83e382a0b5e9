"""Analytics: item response theory, learner ability and pass prediction."""
