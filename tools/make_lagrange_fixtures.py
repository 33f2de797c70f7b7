"""Reference values for Reins' Lagrange multiplier (Safe RLHF, Dai et al. 2024), written independently in PyTorch.

As safe-rlhf's ppo_lag trainer does it: log_lambda is a torch parameter stepped by torch.optim.SGD on the loss
-(J_C - threshold) * exp(log_lambda), J_C the mean of a deque of the latest episode costs, once the step count reaches
the delay; then clamped to log(lambda_max). The policy's advantage is (A_r - lambda * A_c) / (1 + lambda).

HC-RLHF (Chittepu et al. 2025) as its released reinforce_lag trainer does it: J_C becomes the pessimistic bound
mean + k * std of the window (torch's std, n - 1), k = c1 * t(1 - delta, n - 1) / sqrt(n) + c2 * t(1 - delta, m - 1) /
sqrt(m) with scipy's t quantile, n the window's count and m the safety test's size; the policy's costs become
c + k * (c^2 - 2 c mean) / (2 std). (The released code takes the policy term's n from the batch size; Reins takes it
from the window for both, so the fixture does too.)

Output: tests/fixtures/lagrange.json. Run from the repository root with Debian's PyTorch and SciPy:
    /usr/bin/python3 tools/make_lagrange_fixtures.py
"""
import collections
import json
import math
import os

import torch
from scipy.stats import t as student_t

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
HC = dict(SETTINGS, threshold=0.2, lambda_max=8.0, safety_delta=0.1, safety_test_size=40, students_c1=1.0, students_c2=0.5)
log_lambda = torch.nn.Parameter(torch.tensor(math.log(HC["lambda_init"]), dtype=torch.float64))
optimizer = torch.optim.SGD([log_lambda], lr=HC["lambda_lr"])
window = collections.deque(maxlen=HC["episode_cost_window_size"])
hc_lambdas, hc_bounds = [], []
for step, costs in enumerate(STEPS):
    window.extend(costs)
    all_costs = torch.tensor(list(window), dtype=torch.float64)
    n, m, delta = len(all_costs), HC["safety_test_size"], HC["safety_delta"]
    k = HC["students_c1"] * student_t.ppf(1 - delta, n - 1) / math.sqrt(n) + HC["students_c2"] * student_t.ppf(1 - delta, m - 1) / math.sqrt(m)
    bound = all_costs.mean() + k * all_costs.std()
    if step >= HC["lambda_update_delay_steps"]:
        optimizer.zero_grad()
        loss = -(bound - HC["threshold"]) * log_lambda.exp()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            log_lambda.clamp_(max=math.log(HC["lambda_max"]))
    hc_lambdas.append(log_lambda.exp().item())
    hc_bounds.append(bound.item())
last = torch.tensor(STEPS[-1], dtype=torch.float64)
policy_costs = last + k * (last ** 2 - 2 * last * all_costs.mean()) / (2 * all_costs.std())

out = {"settings": SETTINGS, "hc_rlhf": {"settings": HC, "lambdas": hc_lambdas, "bounds": hc_bounds, "policy_costs": policy_costs.tolist()}, "steps": STEPS, "lambdas": lambdas, "reward_advantages": reward.tolist(), "cost_advantages": cost.tolist(),
       "advantages": ((reward - lam * cost) / (1 + lam)).tolist()}
path = os.path.join("tests", "fixtures", "lagrange.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
print(f"{path}: lambda {[round(x, 4) for x in lambdas]}")
