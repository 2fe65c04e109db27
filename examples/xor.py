"""Train the XOR network of the lecture's spirit and print what it learnt.

XOR is the classic problem one straight line cannot solve: a network needs a hidden layer
*and* a non-linear activation (see ``formicary prove``).
"""

import formicary as fc


def main() -> None:
    X, y = fc.datasets.xor()
    net = fc.MLP([2, 4, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    print(net.summary(), end="\n\n")
    history = net.fit(
        X,
        y,
        loss="binary_cross_entropy",
        optimizer=fc.SGD(learning_rate=0.5),
        epochs=2000,
        batch_size=4,
        seed=0,
    )
    print(history.table(every=200), end="\n\n")
    for x, target, y_hat in zip(X, y, net.predict(X)[:, 0], strict=True):
        print(f"x = {x}  y = {target}  y_hat = {y_hat:.3f}")
    check = fc.gradient_check(net, X, y, loss="binary_cross_entropy")
    print(f"\ngradient check: worst relative error {check.max_relative_error:.2e} at {check.worst}")


if __name__ == "__main__":
    main()
