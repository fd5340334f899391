package dev.katmesh.learner;

import dev.katmesh.policy.DecoderModel;
import dev.katmesh.policy.LoraAdapters;
import dev.katmesh.policy.ModelConfig;
import dev.katmesh.policy.PolicyModel;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/** The model the learner trains, one replica per device (data parallelism), as it starts or resumes. */
final class ModelReplicas {

    private ModelReplicas() {}

    /**
     * Adds to {@code into} the weights of {@code weightsDir} on each device, the first loaded and the others copied
     * from it; an adapter version resumes on its base version's weights with its own adapters ({@code adapterFolder})
     * attached to each. Filled in place, so that the caller closes whatever was loaded if a later replica fails.
     */
    static void load(
            List<DecoderModel> into,
            Path weightsDir,
            ModelConfig config,
            List<String> devices,
            Optional<Path> adapterFolder) {
        into.add(DecoderModel.load(weightsDir, config, PolicyModel.device(devices.get(0))));
        for (String d : devices.subList(1, devices.size())) {
            into.add(DecoderModel.fromTensors(config, into.get(0).toTensors(), PolicyModel.device(d), weightsDir));
        }
        if (adapterFolder.isPresent()) {
            LoraAdapters adapters =
                    LoraAdapters.load(adapterFolder.get(), config, into.get(0).manager());
            for (DecoderModel r : into) {
                r.attachAdapters(
                        r == into.get(0)
                                ? adapters
                                : LoraAdapters.copyOf(config, adapters.settings(), adapters.parameters(), r.manager()));
            }
        }
    }
}
