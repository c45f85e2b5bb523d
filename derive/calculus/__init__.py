"""From equations to derivatives: bars and weight gradients (adjoint), Jacobians."""
