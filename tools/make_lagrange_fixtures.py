"""Reference values for Reins' Lagrange multiplier (Safe RLHF, Dai et al. 2024), written independently in PyTorch.

As safe-rlhf's ppo_lag trainer does it: log_lambda is a torch parameter stepped by torch.optim.SGD on the loss
-(J_C - threshold) * exp(log_lambda), J_C the mean of a deque of the latest episode costs, once the step count reaches
the delay; then clamped to log(lambda_max). The policy's advantage is (A_r - lambda * A_c) / (1 + lambda).
Output: tests/fixtures/lagrange.json. Run from the repository root with Debian's PyTorch:
    /usr/bin/python3 tools/make_lagrange_fixtures.py
"""
import collections
import json
import math
import os

import torch

SETTINGS = {"threshold": 0.1, "lambda_init": 1.0, "lambda_lr": 0.5, "lambda_max": 3.0, "lambda_update_delay_steps": 1, "episode_cost_window_size": 5}
# Costs of each step's episodes: the constraint violated for a while (lambda rises to its cap), then met (it falls).
STEPS = [[0.9, 0.7, 0.8], [0.6, 0.9], [0.5, 0.8, 0.7], [0.9, 0.9], [0.4, 0.3, 0.2], [-0.2, -0.5], [-0.6, -0.4, -0.5], [-0.9, -0.8]]

log_lambda = torch.nn.Parameter(torch.tensor(math.log(SETTINGS["lambda_init"]), dtype=torch.float64))
optimizer = torch.optim.SGD([log_lambda], lr=SETTINGS["lambda_lr"])
window = collections.deque(maxlen=SETTINGS["episode_cost_window_size"])
lambdas = []
for step, costs in enumerate(STEPS):
    window.extend(costs)
    if step >= SETTINGS["lambda_update_delay_steps"]:
        optimizer.zero_grad()
        loss = -(torch.tensor(sum(window) / len(window), dtype=torch.float64) - SETTINGS["threshold"]) * log_lambda.exp()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            log_lambda.clamp_(max=math.log(SETTINGS["lambda_max"]))
    lambdas.append(log_lambda.exp().item())

reward = torch.tensor([0.5, -1.0, 1.5, 0.0], dtype=torch.float64)
cost = torch.tensor([1.0, 0.5, -0.5, 2.0], dtype=torch.float64)
lam = lambdas[-1]
out = {"settings": SETTINGS, "steps": STEPS, "lambdas": lambdas, "reward_advantages": reward.tolist(), "cost_advantages": cost.tolist(),
       "advantages": ((reward - lam * cost) / (1 + lam)).tolist()}
path = os.path.join("tests", "fixtures", "lagrange.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(f"{path}: lambda {[round(x, 4) for x in lambdas]}")
