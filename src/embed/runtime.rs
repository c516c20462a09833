//! Where and how the encoder network runs: the device a user asks for
//! (`auto`, `cpu`, `cuda[:N]`), what it resolves to in this build on this
//! machine, and the arithmetic precision of the dense layers.

use serde::{Deserialize, Serialize};

use super::EmbedError;

/// The arithmetic of the network's dense layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// Exact 32-bit floats: the vectors match sentence-transformers.
    #[default]
    Fp32,
    /// 8-bit integer weights and activations: faster, vectors within about
    /// 0.99 cosine of fp32. CPU only.
    Int8,
}

impl crate::names::Named for Precision {
    const ALL: &'static [Precision] = &Precision::ALL;

    fn name(self) -> &'static str {
        Precision::name(self)
    }
}

impl Precision {
    /// Both precisions, exact first.
    pub const ALL: [Precision; 2] = [Precision::Fp32, Precision::Int8];

    /// The name used in options, fingerprints and messages.
    pub fn name(self) -> &'static str {
        match self {
            Precision::Fp32 => "fp32",
            Precision::Int8 => "int8",
        }
    }
}

/// The device a user asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash, Serialize, Deserialize)]
pub enum DeviceChoice {
    /// A CUDA GPU when this build has CUDA and the machine has a GPU, else
    /// the CPU.
    #[default]
    Auto,
    /// The CPU.
    Cpu,
    /// CUDA GPU number N.
    Cuda(usize),
}

impl std::str::FromStr for DeviceChoice {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim().to_ascii_lowercase();
        match text.as_str() {
            "auto" => Ok(DeviceChoice::Auto),
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            _ => text
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(DeviceChoice::Cuda)
                .ok_or_else(|| format!("{text:?}: expected auto, cpu, cuda or cuda:N")),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Auto => write!(f, "auto"),
            DeviceChoice::Cpu => write!(f, "cpu"),
            DeviceChoice::Cuda(n) => write!(f, "cuda:{n}"),
        }
    }
}

/// The device an encoder runs on, once resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Device {
    /// The CPU, with crossrec's own kernels.
    Cpu,
    /// CUDA GPU number N, with candle's CUDA kernels.
    Cuda(usize),
}

impl Device {
    /// Resolves `choice` for `precision` in this build on this machine.
    pub fn resolve(choice: DeviceChoice, precision: Precision) -> Result<Device, EmbedError> {
        let device = match choice {
            DeviceChoice::Cpu => Device::Cpu,
            DeviceChoice::Auto if precision == Precision::Int8 => Device::Cpu,
            DeviceChoice::Auto => Self::first_gpu().unwrap_or(Device::Cpu),
            DeviceChoice::Cuda(n) => Self::gpu(n)?,
        };
        if device != Device::Cpu && precision != Precision::Fp32 {
            return Err(EmbedError::Device(format!(
                "the {} precision runs on the CPU only; choose the CPU device, or fp32 on the GPU",
                precision.name()
            )));
        }
        Ok(device)
    }

    /// What the user is told, and what fingerprints name: "cpu", "cuda:0".
    pub fn name(self) -> String {
        match self {
            Device::Cpu => "cpu".into(),
            Device::Cuda(n) => format!("cuda:{n}"),
        }
    }

    #[cfg(feature = "cuda")]
    fn first_gpu() -> Option<Device> {
        candle_core::utils::cuda_is_available()
            .then(|| Self::gpu(0).ok())
            .flatten()
    }

    #[cfg(not(feature = "cuda"))]
    fn first_gpu() -> Option<Device> {
        None
    }

    #[cfg(feature = "cuda")]
    fn gpu(n: usize) -> Result<Device, EmbedError> {
        candle_core::Device::new_cuda(n)
            .map(|_| Device::Cuda(n))
            .map_err(|err| {
                EmbedError::Device(format!(
                    "cuda:{n}: no usable CUDA GPU ({}); choose the CPU device",
                    super::error::message(err)
                ))
            })
    }

    #[cfg(not(feature = "cuda"))]
    fn gpu(n: usize) -> Result<Device, EmbedError> {
        Err(EmbedError::Device(format!(
            "cuda:{n}: this crossrec was built without CUDA. Build one with \
             `cargo build --release --features cuda` on a machine with the CUDA toolkit \
             (nvcc) installed, or choose the CPU device"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_choices_parse_and_print_back() {
        for text in ["auto", "cpu", "cuda:0", "cuda:3"] {
            let choice: DeviceChoice = text.parse().expect(text);
            assert_eq!(choice.to_string(), text);
        }
        assert_eq!("CUDA".parse(), Ok(DeviceChoice::Cuda(0)));
        assert!("gpu".parse::<DeviceChoice>().is_err());
        assert!("cuda:x".parse::<DeviceChoice>().is_err());
    }

    #[test]
    fn int8_stays_on_the_cpu() {
        assert_eq!(
            Device::resolve(DeviceChoice::Auto, Precision::Int8).ok(),
            Some(Device::Cpu)
        );
        assert!(Device::resolve(DeviceChoice::Cuda(0), Precision::Int8).is_err());
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn a_build_without_cuda_says_how_to_get_one() {
        let err = Device::resolve(DeviceChoice::Cuda(1), Precision::Fp32)
            .expect_err("no CUDA in this build")
            .to_string();
        assert!(
            err.contains("--features cuda") && err.contains("the CPU device"),
            "{err}"
        );
        assert_eq!(
            Device::resolve(DeviceChoice::Auto, Precision::Fp32).ok(),
            Some(Device::Cpu)
        );
    }
}
